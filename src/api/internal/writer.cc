#include "api/internal/writer.h"

namespace straits::api::internal {

namespace {

// Mutations a batch takes at most: bounds the time a batch holds the lock.
constexpr std::size_t kMaxBatch = 512;

void append(store::Batch& to, store::Batch&& from) {
  auto move_all = [](auto& dst, auto& src) {
    for (auto& x : src) dst.push_back(std::move(x));
  };
  move_all(to.entities, from.entities);
  move_all(to.users, from.users);
  move_all(to.tokens, from.tokens);
  move_all(to.leases, from.leases);
  move_all(to.jobs, from.jobs);
  move_all(to.job_events, from.job_events);
  move_all(to.agents, from.agents);
  move_all(to.change_requests, from.change_requests);
  move_all(to.rulesets, from.rulesets);
  move_all(to.audit, from.audit);
}

// Every audit event names the hash of the rule set in force when it happened
// (issue 17), in its decision: a policy decision names it already; any other
// event gets {"ruleset": HASH} (or the field added to its object).
void stamp_ruleset(store::NewAuditEvent& event, const Policy& policy) {
  const std::string& hash = policy.ruleset_at(event.at);
  if (hash.empty()) return;
  if (event.decision_json.empty()) {
    event.decision_json = nlohmann::json{{"ruleset", hash}}.dump();
    return;
  }
  if (event.decision_json.find("\"ruleset\"") != std::string::npos) return;
  nlohmann::json decision = nlohmann::json::parse(event.decision_json, nullptr, false);
  if (!decision.is_object()) return;
  decision["ruleset"] = hash;
  event.decision_json = decision.dump();
}

}  // namespace

Writer::Writer(World& world, store::Store& store, const Clock& clock,
               std::function<Status()> reload)
    : world_(world), store_(store), clock_(clock), reload_(std::move(reload)), thread_([this] {
        loop();
      }) {}

Writer::~Writer() {
  stop();
}

Reply Writer::run(Mutation mutation) {
  std::future<Reply> outcome;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return {503, error_body({503, "unavailable", "the server is shutting down", "", nullptr})};
    }
    Pending pending{std::move(mutation), {}};
    outcome = pending.done.get_future();
    queue_.push_back(std::move(pending));
  }
  wake_.notify_one();
  return outcome.get();
}

void Writer::set_witness(std::unique_ptr<Witness> witness,
                         std::function<void(const std::string&)> on_error) {
  std::lock_guard lock(mutex_);
  witness_ = std::move(witness);
  witness_error_ = std::move(on_error);
}

void Writer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool Writer::apply_all(std::vector<Pending>& taken, store::Batch& batch,
                       std::vector<Reply>& replies) {
  bool diverged = false;
  std::unique_lock world_lock(world_.mutex);
  for (std::size_t i = 0; i < taken.size(); ++i) {
    store::Batch own;
    try {
      replies[i] = taken[i].mutation(world_, own);
      // After the mutation: an adoption names the set it put in force.
      for (store::NewAuditEvent& event : own.audit) stamp_ruleset(event, *world_.policy);
      append(batch, std::move(own));
    } catch (const HttpError& e) {
      replies[i] = {e.status, error_body(e)};
      // A refusal comes before any change (writer.h); one that comes after
      // the mutation began writing is a failure part-way.
      diverged = diverged || !own.empty();
    } catch (const std::exception& e) {
      replies[i] = {500, error_body({500, "internal", e.what(), "", nullptr})};
      diverged = true;
    }
  }
  batch.ruleset = world_.policy->ruleset_at(clock_.now());
  return diverged;
}

void Writer::commit(store::Batch& batch, std::vector<Reply>& replies, bool reloading) {
  auto committed = store_.commit(batch);
  if (!committed) {
    // The world holds changes the store does not: go back to the store
    // (unless the caller does so anyway).
    Status reloaded = reloading ? Status() : reload_();
    const std::string why =
        "the change could not be stored: " + committed.error().message() +
        (reloaded ? "" : "; reloading the state failed too: " + reloaded.error().message());
    for (auto& r : replies) {
      if (r.status < 300) r = {503, error_body({503, "unavailable", why, "", nullptr})};
    }
    return;
  }
  ++commits_;
  {
    std::unique_lock world_lock(world_.mutex);
    if (!committed->empty()) world_.audit_seq = committed->back().seq;
  }
  // Outside the database before anyone hears of the commit: a head
  // the witness holds cannot be cut from the store unnoticed.
  if (witness_) {
    auto head = store_.last_signed_head();
    if (head && head->seq > witnessed_seq_) {
      if (Status kept = witness_->append(*head); !kept) {
        if (witness_error_) witness_error_(kept.error().message());
      } else {
        witnessed_seq_ = head->seq;
      }
    }
  }
}

void Writer::loop() {
  for (;;) {
    std::vector<Pending> taken;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && taken.size() < kMaxBatch) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    store::Batch batch;
    std::vector<Reply> replies(taken.size());
    const bool diverged = apply_all(taken, batch, replies);
    mutations_ += taken.size();
    if (!batch.empty()) commit(batch, replies, diverged);
    if (diverged) {
      // A mutation failed part-way: what it changed is in memory and not in
      // the store. The store holds what was committed: go back to it.
      if (Status reloaded = reload_(); !reloaded) {
        const std::string why = "a change failed part-way and reloading the state failed: " +
                                reloaded.error().message();
        for (auto& r : replies) {
          if (r.status >= 500) r = {500, error_body({500, "internal", why, "", nullptr})};
        }
      }
    }
    // Long-polling agents look again: an assignment may have appeared.
    if (!batch.empty()) world_.changed.notify();
    for (std::size_t i = 0; i < taken.size(); ++i) taken[i].done.set_value(std::move(replies[i]));
  }
}

}  // namespace straits::api::internal
