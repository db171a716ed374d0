// Queue policies as data: each is a descriptor (policies/*.cc, one file a
// policy) held in one registry that the scheduler, the scenario loader, the
// CLI and the docs read. A descriptor says the order jobs are tried in, how
// the pools left are scored, and whether the policy blocks (FIFO), reserves
// (EASY) or may preempt; the scheduler's pass branches on those flags only,
// never on a policy's name.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/id.h"

namespace straits::sched {

struct ClusterState;
struct SchedulerOptions;

// The built-in policies, in registry order (their values are their places
// in the registry). Policies registered later (register_queue_policy) take
// the values after kCost.
enum class QueuePolicy : std::uint8_t {
  kFifo,               // strict arrival order: a job that cannot start blocks those behind it
  kEasyBackfill,       // FIFO with a reservation for the first blocked job per pool
  kPriorityFairShare,  // priority, then the org, then the team, furthest below its share
  kLeastAttained,      // least attained service first (Tiresias)
  kThroughput,         // arrival order, each job on the fastest chip it may use (Gavel-style)
  kCost,               // arrival order, where it costs least while meeting its deadline
};

// How the pools that pass every filter are ranked (smaller is better). The
// site preference comes first under all of them; ties go to pool order.
enum class Scoring : std::uint8_t {
  kPreference,  // then price, then speed
  kThroughput,  // then speed (the fastest chip), then price
  kCost,        // then total cost (price x GPUs x run time); pools where the
                // job would finish after its deadline are filtered out
};
std::string_view to_string(Scoring scoring);
std::optional<Scoring> parse_scoring(std::string_view text);
// The words docs use for where a job goes under a scoring.
std::string_view describe(Scoring scoring);

// What a queue order sees: the state, the options (shares) and, for a
// policy with counts_held, the GPUs each org and team holds now across all
// sites (empty otherwise).
struct QueueSortContext {
  const ClusterState& state;
  const SchedulerOptions& options;
  const std::map<OrgId, std::int32_t>& org_gpus;
  const std::map<std::pair<OrgId, std::string>, std::int32_t>& team_gpus;
};
// Sorts `order` (indexes into state.pending, in queue order) into the order
// jobs are tried in; it must be a stable sort, so that ties keep arrival order.
using QueueSort = void (*)(const QueueSortContext& context, std::vector<std::size_t>& order);

struct QueuePolicyInfo {
  std::string_view name;        // as scenarios and the CLI spell it
  std::string_view order_text;  // the order jobs are tried in, in words (docs)
  QueueSort sort = nullptr;     // null: arrival order
  Scoring scoring = Scoring::kPreference;
  bool blocks = false;       // a job that cannot start (but could some day) blocks the rest
  bool reserves = false;     // EASY: a blocked job claims a reservation per pool
  bool counts_held = false;  // the sort reads the GPUs orgs and teams hold (context)
  bool can_preempt = false;  // with SchedulerOptions::preemption
  std::vector<std::string_view> aliases = {};  // other names parse_queue_policy accepts
};

// Every policy, built-in ones first, in QueuePolicy order.
std::vector<const QueuePolicyInfo*> queue_policies();
// REQUIRES: `policy` is built in or was registered.
const QueuePolicyInfo& queue_policy_info(QueuePolicy policy);
// Adds a policy; returns its value. Not thread-safe: register before any
// scheduler or loader reads the registry. The name must be new.
QueuePolicy register_queue_policy(QueuePolicyInfo info);

std::string_view to_string(QueuePolicy policy);
std::optional<QueuePolicy> parse_queue_policy(std::string_view text);
// The names of every policy, in registry order.
std::vector<std::string> queue_policy_names();
// The registry as docs/scenarios.md's markdown table (policy, order, where a
// job goes), one line a policy, each ending in '\n'.
std::string queue_policy_table();

}  // namespace straits::sched
