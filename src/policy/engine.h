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

// Param values that move scenario dates: name -> "YYYY-MM-DD".
using ParamOverrides = std::map<std::string, std::string>;

// One end of a rule's `effective FROM .. UNTIL` range: from `at` the rule
// applies (starts) or no longer does.
struct RuleChange {
  Instant at;
  bool starts = true;
  RuleId rule;
  std::string title;
  std::string pack;  // the pack's name (its folder's)

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
  // answer as these rules for `actions`, over the context built by
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

  // Rules loaded, after replacements.
  std::size_t rule_count() const;
  // The pack folders loaded, in order, and the params in force.
  const std::vector<std::string>& packs() const;
  const std::map<std::string, Instant>& params() const;

 private:
  friend struct internal::TestPeer;
  explicit Engine(std::shared_ptr<const internal::CompiledPolicy> compiled)
      : compiled_(std::move(compiled)) {}
  std::shared_ptr<const internal::CompiledPolicy> compiled_;
};

}  // namespace straits::policy
