// The policy engine: rule packs compiled against a catalog, answering "may
// this happen at this instant, and why" (see docs/rules.md for the language
// and its semantics).
//
// Load once, ask many times. An Engine is immutable after load() and safe to
// use from many threads; copies share the compiled packs.
//
// Example:
//   auto engine = Engine::load(catalog, {"rules/default"});
//   auto subject = engine->resolve(LeaseRequest{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100")});
//   Outcome fast = engine->evaluate(*subject, now);      // no explanation: for the scheduler
//   Decision full = engine->decide(*subject, now);       // rules, citations, obligations
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/error.h"
#include "policy/decision.h"
#include "policy/request.h"

namespace straits::policy {

namespace internal {
struct CompiledPolicy;
struct Timeline;
struct TestPeer;  // defined by tests only: reads a Subject's slots
}  // namespace internal

// A request resolved against the catalog: the attribute values rules read,
// the parties whose licences count, and the job's datasets. Cheap to copy;
// build it once per (job, pool) and evaluate it at many instants.
class Subject {
 public:
  static constexpr std::size_t kSlots = 40;  // the rows of internal/facts.h, checked there

  Action action() const { return action_; }

 private:
  friend struct internal::CompiledPolicy;
  friend struct internal::TestPeer;
  friend class Engine;

  struct HeldLicence {
    std::int64_t name = 0;  // interned licence name
    Instant from;
    Instant until;
    std::uint32_t index = 0;  // into the catalog's licences
  };

  Action action_ = Action::kLease;
  std::array<std::int64_t, kSlots> facts_{};
  // run: the dataset.* values of the job's datasets, one dataset after another.
  std::vector<std::int64_t> datasets_;
  std::vector<HeldLicence> licences_;  // parties' licences covering chip and destination
};

// Param values that move scenario dates: name -> "YYYY-MM-DD" or an instant
// "YYYY-MM-DDTHH:MM:SSZ".
using ParamOverrides = std::map<std::string, std::string>;

// A pack given as text (from an API request or a store, not a folder): its
// name, as a folder's name would be, and its files.
struct PackSource {
  std::string name;                                        // "default"
  std::vector<std::pair<std::string, std::string>> files;  // ("us-h20.rules", text)

  friend bool operator==(const PackSource&, const PackSource&) = default;
};

// Reads the *.rules files of pack folders, in name order (NotFound naming a
// folder that is missing or holds no *.rules file; IoError naming a file
// that cannot be read).
Result<std::vector<PackSource>> read_pack_sources(const std::vector<std::filesystem::path>& dirs);

// One rule set of a timeline (Engine::load_timeline): the packs and params
// adopted together, in force from `from` until the next set's `from`.
struct RuleSetSource {
  std::string hash;  // its content hash, computed by the caller: Decision::ruleset
  Instant from = Instant::min();
  std::vector<PackSource> packs;  // base first
  ParamOverrides params;
};

// One end of a rule's `effective FROM .. UNTIL` range: from `at` the rule
// applies (starts) or no longer does.
struct RuleChange {
  Instant at;
  bool starts = true;
  RuleId rule;
  std::string title;
  std::string pack;    // the pack's name (its folder's)
  std::string source;  // the rule's `source`: its citation

  friend bool operator==(const RuleChange&, const RuleChange&) = default;
};

class Engine {
 public:
  // Loads pack folders in order (the first is the base, the next are laid
  // over it), checks every rule against `catalog`, and compiles them. On
  // failure the Error lists every problem as file:line:column: message.
  // REQUIRES: `catalog` outlives the Engine.
  static Result<Engine> load(const catalog::Catalog& catalog,
                             const std::vector<std::filesystem::path>& packs,
                             const ParamOverrides& params = {});
  // As load(), from text: errors name "PACK/FILE:line:column".
  static Result<Engine> load_sources(const catalog::Catalog& catalog,
                                     const std::vector<PackSource>& packs,
                                     const ParamOverrides& params = {});
  // Rule sets adopted one after another: set i decides at instants in
  // [from_i, from_i+1); before the first set's `from`, the first set decides.
  // Every method works across the sets: a boundary is a change point
  // (change_points(), next_change_after(), rule_changes()), so a set adopted
  // for a future instant is foreseen like a dated rule. Errors name the set
  // by its hash. REQUIRES: `sets` not empty, `from` strictly increasing.
  static Result<Engine> load_timeline(const catalog::Catalog& catalog,
                                      const std::vector<RuleSetSource>& sets);
  // The hash of the rule set deciding at `at`: "" for an engine from load()
  // or load_sources().
  const std::string& ruleset_at(Instant at) const;
  // The catalog the rules were checked against.
  const catalog::Catalog& catalog() const;

  // Checks the ids of a request against the catalog (NotFound naming the id
  // otherwise) and gathers what evaluation needs.
  Result<Subject> resolve(const Request& request) const;

  // The outcome alone: the fast path, no allocation.
  Outcome evaluate(const Subject& subject, Instant at) const;
  // The outcome with every rule that applied, its citation, the licences
  // that lifted requirements, the obligations, and how long it holds.
  Decision decide(const Subject& subject, Instant at) const;
  Result<Decision> decide(const Request& request, Instant at) const;
  // As decide(), without computing how long it holds (valid_until stays
  // Instant::max()): for callers that scan time themselves.
  Decision explain(const Subject& subject, Instant at) const;

  // The first instant after `after` at which the decision (outcome, rules,
  // licences, obligations) differs from the one at `after`; Instant::max()
  // when none lies ahead. Candidates are rule starts and ends and licence
  // starts and expiries, so nothing can change in between.
  Instant next_change_after(const Subject& subject, Instant after) const;

  // Cedar (cedarpolicy.com) policies that give the same allow / not-allow
  // answer as these rules (a timeline's last set) for `actions`, over the context built by
  // cedar_context(): for interoperability and for the side-by-side
  // benchmark. Records carry no Cedar meaning and are left out; a run rule
  // over dataset.* sees only the job's first dataset. Fails (Unimplemented
  // as InvalidArgument) when a number cannot be encoded exactly as a Long.
  Result<std::string> to_cedar(const std::vector<Action>& actions) const;
  // The Cedar request context (a JSON object) for a subject at an instant.
  std::string cedar_context(const Subject& subject, Instant at) const;

  // Every instant at which some decision may change: rule starts and ends,
  // licence starts and expiries; sorted, without repeats. A simulator wakes
  // its scheduler at these.
  std::vector<Instant> change_points() const;
  // Every rule start and end (open ends left out), after replacements:
  // sorted by instant, then ends before starts, then rule id. For reports
  // that mark when the rules changed.
  std::vector<RuleChange> rule_changes() const;

  // Rules loaded, after replacements (a timeline: its last set's).
  std::size_t rule_count() const;
  // The pack folders loaded, in order, and the params in force (a timeline:
  // its last set's).
  const std::vector<std::string>& packs() const;
  const std::map<std::string, Instant>& params() const;

 private:
  friend struct internal::TestPeer;
  explicit Engine(std::shared_ptr<const internal::CompiledPolicy> compiled,
                  std::shared_ptr<const internal::Timeline> timeline = nullptr)
      : compiled_(std::move(compiled)), timeline_(std::move(timeline)) {}
  // The compiled rules deciding at `at`.
  const internal::CompiledPolicy& policy_at(Instant at) const;
  // The rules when loaded alone; a timeline's last set, whose symbols are a
  // superset of every earlier set's (they are compiled in order, each seeded
  // with the symbols before it), so that it resolves subjects for all.
  std::shared_ptr<const internal::CompiledPolicy> compiled_;
  std::shared_ptr<const internal::Timeline> timeline_;  // null unless load_timeline()
};

}  // namespace straits::policy
