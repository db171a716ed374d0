// The server's state in memory: what the store holds, indexed for requests,
// and the catalog and rules in force (rebuilt when a managed entity changes).
// Guarded by World::mutex: requests read under a shared lock; only the
// writer thread changes it, under an exclusive one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/internal/job_state.h"
#include "catalog/catalog.h"
#include "catalog/load.h"
#include "policy/engine.h"
#include "sched/job.h"
#include "sched/throughput.h"
#include "store/records.h"

namespace straits::api::internal {

using nlohmann::json;

// The catalog and rule packs in force. Immutable once built; a scheduling
// pass or a request keeps the one it started with (shared_ptr), so a pass
// decides under one rule set from its start to its end.
struct Policy {
  catalog::Catalog catalog;
  // The timeline of the adopted rule sets (issue 17), or the packs of
  // --rules before the first set is stored; compiled against `catalog`.
  std::optional<policy::Engine> engine;
  std::optional<sched::ThroughputModel> throughput;
  std::uint64_t generation = 0;
  // Hex SHA-256 of the catalog texts it was built from: a rule set names the
  // catalog it was checked against.
  std::string catalog_fingerprint;
  // The hash of the rule set deciding at `at` ("" before any is adopted).
  const std::string& ruleset_at(Instant at) const { return engine->ruleset_at(at); }
  Policy() = default;
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;
};

// The kinds of managed catalog entity, as the API names them (plural, the
// path) and as the store and the catalog files do.
struct EntityKind {
  const char* plural;  // "pools": /v1/pools, and the YAML section
  const char* kind;    // "pool": the store's kind
  const char* file;    // "pools.yaml"
};
inline constexpr EntityKind kEntityKinds[] = {
    {"operators", "operator", "operators.yaml"},
    {"sites", "site", "sites.yaml"},
    {"pools", "pool", "pools.yaml"},
    {"orgs", "org", "orgs.yaml"},
    {"licences", "licence", "licences.yaml"},
    {"datasets", "dataset", "datasets.yaml"},
};
const EntityKind* find_entity_kind(std::string_view plural_or_kind);

struct JobEntry {
  // What the store holds. Its `state` and `run_json` are written from
  // `state` and `run` below when the record is saved (save_job): in memory
  // the typed fields are the job's.
  store::JobRecord record;
  JobState state = JobState::kQueued;
  json spec;       // record.spec_json, parsed
  sched::Job job;  // the spec as the scheduler sees it
  std::vector<store::JobEvent> events;
  // Set by the scheduling loop for a queued job: why it waits.
  std::string waiting_reason;
  std::string waiting_rule;
  // Its rank (1-based) among the queued jobs in the queue policy's order, as
  // the last scheduling pass sorted them (a job submitted since goes last);
  // 0 while not queued. Memory only: the next pass ranks again.
  std::size_t queue_position = 0;
  // Where it runs while assigned/running/checkpointing.
  std::optional<std::string> pool;
  std::vector<std::pair<std::int32_t, std::int32_t>> nodes;  // (node, gpus)
  Instant must_leave_by = Instant::max();
  std::string cut_reason;
  // Its runs at site agents (record.run_json, parsed; none before the first
  // placement): docs/agents.md.
  std::optional<RunState> run;
  // Assignment ids of the current attempt an agent acknowledged (memory
  // only: after a restart they are delivered again and acknowledged again).
  std::set<std::string> acked;
  // The JSON the API shows but `waiting`, rendered when the job changes
  // (GETs are many), without its closing brace: to_json() adds the rest. Why a
  // job waits changes on every pass for thousands of jobs, its record not.
  std::string rendered;
  std::string to_json() const;
};

// A site agent. What changes on every request of it (when it was last
// heard, what it was handed) is memory only, under World::agent_mutex.
struct AgentEntry {
  store::AgentRecord record;
  json body;  // the record's body: sites, backend, version, registered_by
  std::set<std::string> sites;
  std::string operator_id;  // of its sites ("" when they differ)
  std::string to_json(bool with_liveness = true) const;
  // Memory only (agent_mutex). Liveness is measured in real time, not with
  // the server's clock, which tests and simulations move at will.
  mutable std::chrono::steady_clock::time_point last_seen;
  mutable Instant last_seen_at;             // the same, on the server's clock, for the API
  mutable std::set<std::string> delivered;  // assignment ids handed out
  // Runs it said it has (heartbeat) that the server does not expect there:
  // each gets a stop assignment. (job, attempt).
  mutable std::set<std::pair<std::string, std::int64_t>> stray_runs;
};

// Wakes long-polling agents when something changed (every commit).
class ChangeSignal {
 public:
  std::uint64_t generation() const;
  void notify();
  // Waits until the generation is not `seen` or until `deadline`.
  void wait(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) const;
  // Called after every notify, outside the lock: the HTTP server looks at its parked
  // long-polls again (they hold no thread to wait with). Set once, before serving.
  void on_notify(std::function<void()> listener) { listener_ = std::move(listener); }

 private:
  std::function<void()> listener_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

struct World {
  mutable std::shared_mutex mutex;

  catalog::CatalogTexts base_texts;  // chips.yaml and countries.yaml of the catalog folder
  std::string catalog_name;          // for messages
  std::vector<std::filesystem::path> rule_dirs;
  // kind ("pool") -> id -> record
  std::map<std::string, std::map<std::string, store::EntityRecord>, std::less<>> entities;
  std::shared_ptr<const Policy> policy;

  std::map<std::string, store::UserRecord> users;
  std::map<std::string, store::TokenRecord> tokens;
  std::unordered_map<std::string, std::string> token_by_hash;  // hash -> token id
  std::map<std::string, store::LeaseRecord> leases;
  std::map<std::string, JobEntry> jobs;
  std::map<std::string, std::set<std::string>> jobs_by_org;
  // Queued jobs by org, for the cap on them (max_queued_per_org): kept by
  // put_job (load, submit, cancel) and counted again by every scheduling
  // pass (which places jobs and queues them again without put_job).
  std::map<std::string, std::size_t> queued_by_org;
  std::map<std::string, AgentEntry> agents;
  // agent_key(operator, name) -> agent id: names are unique per operator,
  // not across operators (another operator's name is not answered 409).
  std::map<std::string, std::string> agent_by_name;
  // Change requests of compliance facts (maker-checker), by id.
  std::map<std::string, store::ChangeRequestRecord> change_requests;
  // Rule sets (issue 17), by id: the adopted ones make policy's engine.
  std::map<std::string, store::RulesetRecord> rulesets;
  // Guards the memory-only fields of agents and start_claims: changed by
  // requests that hold `mutex` shared.
  mutable std::mutex agent_mutex;
  // (job, attempt) -> the agent its start was handed to: two agents of one
  // site never both get it.
  std::map<std::pair<std::string, std::int64_t>, std::string> start_claims;
  ChangeSignal changed;
  std::int64_t next_lease = 1, next_job = 1, next_user = 1, next_token = 1, next_agent = 1,
               next_request = 1, next_ruleset = 1;
  std::int64_t audit_seq = 0;
  // Changes whenever a lease is created or terminated: a scheduling plan made
  // before is not applied.
  std::uint64_t lease_revision = 0;
  // ServerOptions::on_save_job (tests).
  std::function<void(const std::string& job)> on_save_job;

  // Loads the store's snapshot (REQUIRES: base_texts, rule_dirs set).
  Status load(store::Snapshot snapshot);
  // Builds the catalog and the engine from base_texts and `with` (the
  // managed entities, as they would be), the rules from the adopted sets of
  // `sets` (rule_dirs while none is). Errors name the entity and field.
  Result<std::shared_ptr<const Policy>> build_policy(
      const std::map<std::string, std::map<std::string, store::EntityRecord>, std::less<>>& with,
      const std::map<std::string, store::RulesetRecord>& sets) const;
  // The same with the rule sets as they are.
  Result<std::shared_ptr<const Policy>> build_policy(
      const std::map<std::string, std::map<std::string, store::EntityRecord>, std::less<>>& with)
      const {
    return build_policy(with, rulesets);
  }

  void put_job(JobEntry entry);  // inserts or replaces, re-renders
  // Ranks the queued jobs 1..n: those of `order` (job ids in the queue
  // policy's order) first, then any other queued job by id; the rest 0.
  void rank_queue(const std::vector<std::string>& order);
  // The last rank handed out: a job submitted after the pass goes behind it.
  std::size_t queue_tail = 0;
  void render(JobEntry& entry) const;
};

// The key of agent_by_name: an agent's name within its operator ("" when
// its sites are several operators').
std::string agent_key(const std::string& operator_id, const std::string& name);

// "l-00000042" from ("l", 42); and the number back (0 if not of that form).
std::string make_id(const char* prefix, std::int64_t number);
std::int64_t id_number(std::string_view id);

// The sched::Job of a job's spec (REQUIRES: a spec the API validated).
sched::Job job_from_spec(const store::JobRecord& record, const json& spec);

// A lease as the API shows it at `now`: state "active" until its end, then
// "ended"; "terminated" when ended early.
std::string lease_json(const store::LeaseRecord& lease, Instant now);
std::string lease_state(const store::LeaseRecord& lease, Instant now);

}  // namespace straits::api::internal
