// A decision as JSON, the one shape the CLI (`policy check --json`) and the
// API (`POST /v1/decisions`, a lease's or a job's decision) print:
//   {"decision", "action", "at", "rules": [{"id", "effect", "title",
//    "source", "licence"?, "lifted_by"?, "obligation"?, "pack"}],
//    "licence", "licences", "obligations", "valid_until"}
// "source" is the rule's citation; "valid_until" is null when no known
// change lies ahead.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "policy/decision.h"

namespace straits::policy {

nlohmann::json decision_json(const Decision& decision);

}  // namespace straits::policy
