#include "sched/queue_policy.h"

#include <algorithm>
#include <cassert>
#include <deque>

#include "sched/policies/builtin.h"

namespace straits::sched {
namespace {

// The registry: the one table of queue policies. A deque, so that the
// descriptors a scheduler reads stay where they are as policies are added.
std::deque<QueuePolicyInfo>& registry() {
  static std::deque<QueuePolicyInfo> table = {
      policies::fifo(),           policies::easy_backfill(), policies::priority_fair_share(),
      policies::least_attained(), policies::throughput(),    policies::cost(),
  };
  return table;
}

}  // namespace

std::string_view to_string(Scoring scoring) {
  switch (scoring) {
    case Scoring::kPreference: return "preference";
    case Scoring::kThroughput: return "throughput";
    case Scoring::kCost: return "cost";
  }
  return "?";
}

std::optional<Scoring> parse_scoring(std::string_view text) {
  for (Scoring s : {Scoring::kPreference, Scoring::kThroughput, Scoring::kCost}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

std::string_view describe(Scoring scoring) {
  switch (scoring) {
    case Scoring::kPreference: return "preference, price, speed";
    case Scoring::kThroughput:
      return "the fastest chip it may use (heterogeneity-aware, Gavel-style)";
    case Scoring::kCost:
      return "least total cost (price x GPUs x run time) among the pools where it meets its "
             "deadline";
  }
  return "?";
}

std::vector<const QueuePolicyInfo*> queue_policies() {
  std::vector<const QueuePolicyInfo*> all;
  for (const QueuePolicyInfo& info : registry()) all.push_back(&info);
  return all;
}

const QueuePolicyInfo& queue_policy_info(QueuePolicy policy) {
  const auto& table = registry();
  const auto at = static_cast<std::size_t>(policy);
  assert(at < table.size());
  return table[at < table.size() ? at : 0];
}

QueuePolicy register_queue_policy(QueuePolicyInfo info) {
  auto& table = registry();
  assert(!parse_queue_policy(info.name));
  table.push_back(std::move(info));
  return static_cast<QueuePolicy>(table.size() - 1);
}

std::string_view to_string(QueuePolicy policy) {
  const auto at = static_cast<std::size_t>(policy);
  return at < registry().size() ? registry()[at].name : "?";
}

std::optional<QueuePolicy> parse_queue_policy(std::string_view text) {
  const auto& table = registry();
  for (std::size_t at = 0; at < table.size(); ++at) {
    const auto& aliases = table[at].aliases;
    if (text == table[at].name ||
        std::find(aliases.begin(), aliases.end(), text) != aliases.end()) {
      return static_cast<QueuePolicy>(at);
    }
  }
  return std::nullopt;
}

std::vector<std::string> queue_policy_names() {
  std::vector<std::string> names;
  for (const QueuePolicyInfo& info : registry()) names.emplace_back(info.name);
  return names;
}

std::string queue_policy_table() {
  std::string table = "| policy | order jobs are tried in | where a job goes |\n|---|---|---|\n";
  for (const QueuePolicyInfo& info : registry()) {
    table.append("| `").append(info.name).append("` | ").append(info.order_text).append(" | ");
    table.append(describe(info.scoring)).append(" |\n");
  }
  return table;
}

}  // namespace straits::sched
