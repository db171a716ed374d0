// Rule sets as the server keeps them (issue 17): rule packs given as text,
// their content hash, their JSON in the store and at the API, and the
// timeline of the adopted ones that World::build_policy compiles.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/time.h"
#include "policy/engine.h"
#include "store/records.h"

namespace straits::api::internal {

// What a rule set holds: its packs (base first), each with its files, and the
// param values laid over them.
struct RulesetContent {
  std::vector<policy::PackSource> packs;
  policy::ParamOverrides params;
};

// The content hash: hex SHA-256 over "straits-ruleset-v1", then each pack
// (in order) as its name, its number of files and each file sorted by name
// (name, text), then the number of params and each (name, value) by name;
// every item as "LENGTH:BYTES" (as the audit chain hashes). The order of the
// files as given does not matter; everything else does.
std::string ruleset_hash(const RulesetContent& content);

// {"packs":[{"name":..,"files":{FILE:TEXT}}],"params":{NAME:VALUE}}: the
// store's packs_json, and the body of POST /v1/rulesets without its name.
std::string packs_json(const RulesetContent& content);
// Its reverse; an error names what is wrong (a store written by hand).
Result<RulesetContent> parse_packs_json(const std::string& text);

// The adopted sets of `sets`, by effective instant: what
// policy::Engine::load_timeline compiles. Empty when none is adopted.
Result<std::vector<policy::RuleSetSource>> adopted_timeline(
    const std::map<std::string, store::RulesetRecord>& sets);

// A rule set as the API shows it; with its packs' files when asked.
nlohmann::json ruleset_json(const store::RulesetRecord& set, bool with_files);

}  // namespace straits::api::internal
