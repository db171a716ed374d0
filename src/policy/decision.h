// A policy decision: may this happen at this instant, and why. Decisions are
// values; a deny is an answer, not an error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/id.h"
#include "core/time.h"

namespace straits::policy {

enum class Action { kShip, kLease, kRun, kTransfer };
inline constexpr int kActionCount = 4;
std::string_view to_string(Action action);
// "ship" -> kShip; nullopt for anything else.
std::optional<Action> parse_action(std::string_view text);

// Forbid beats licence-required beats allow.
enum class Outcome { kAllow, kLicenceRequired, kDeny };
std::string_view to_string(Outcome outcome);  // "allow", "licence_required", "deny"

enum class EffectKind { kForbid, kRequireLicence, kRecord };
std::string_view to_string(EffectKind effect);  // "forbid", "require_licence", "record"

// One effect of one rule that applied.
struct MatchedRule {
  RuleId id;
  EffectKind effect = EffectKind::kRecord;
  std::string title;
  std::string source;
  std::string licence_name;            // for kRequireLicence
  std::optional<LicenceId> lifted_by;  // the licence that lifted the requirement
  std::string obligation;              // for kRecord
  std::string pack;                    // the pack folder the rule came from
  SourceLocation where;                // the rule's place in its file

  friend bool operator==(const MatchedRule&, const MatchedRule&) = default;
};

struct Decision {
  Outcome outcome = Outcome::kAllow;
  Action action = Action::kLease;
  Instant at;
  // Every applying rule effect, ordered by rule id then effect order: the
  // same inputs always give the same list, whatever the order of the files.
  std::vector<MatchedRule> rules;
  // The licences that lifted requirements, in rule order, without repeats.
  std::vector<LicenceId> licences;
  std::vector<std::string> obligations;
  // The decision holds over [at, valid_until); Instant::max() when no known
  // change lies ahead.
  Instant valid_until = Instant::max();
  // The content hash of the rule set it was made under (Engine::ruleset_at);
  // "" for rules loaded from folders outside a server.
  std::string ruleset;

  friend bool operator==(const Decision&, const Decision&) = default;
};

}  // namespace straits::policy
