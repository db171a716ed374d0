#include "policy/decision_json.h"

#include <nlohmann/json.hpp>

namespace straits::policy {

using nlohmann::json;

json decision_json(const Decision& d) {
  json rules = json::array();
  for (const MatchedRule& m : d.rules) {
    json r = {{"id", m.id.str()},
              {"effect", std::string(to_string(m.effect))},
              {"title", m.title},
              {"source", m.source}};
    if (m.effect == EffectKind::kRequireLicence) {
      r["licence"] = m.licence_name;
      r["lifted_by"] = m.lifted_by ? json(m.lifted_by->str()) : json(nullptr);
    }
    if (m.effect == EffectKind::kRecord) r["obligation"] = m.obligation;
    r["pack"] = m.pack;
    rules.push_back(r);
  }
  json licences = json::array();
  for (const auto& l : d.licences) licences.push_back(l.str());
  json out = {{"decision", std::string(to_string(d.outcome))},
              {"action", std::string(to_string(d.action))},
              {"at", to_iso8601(d.at)},
              {"rules", rules},
              {"licence", d.licences.empty() ? json(nullptr) : json(d.licences.front().str())},
              {"licences", licences},
              {"obligations", d.obligations},
              {"valid_until",
               d.valid_until == Instant::max() ? json(nullptr) : json(to_iso8601(d.valid_until))}};
  if (!d.ruleset.empty()) out["ruleset"] = d.ruleset;
  return out;
}

}  // namespace straits::policy
