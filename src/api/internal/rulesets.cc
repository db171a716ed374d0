#include "api/internal/rulesets.h"

#include "api/internal/auth.h"

#include <algorithm>

namespace straits::api::internal {

using nlohmann::json;

namespace {

void add_item(std::string& out, std::string_view bytes) {
  out += std::to_string(bytes.size());
  out += ':';
  out += bytes;
}

json instant_or_null(const std::optional<Instant>& t) {
  return t ? json(to_iso8601(*t)) : json(nullptr);
}

json text_or_null(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

}  // namespace

std::string ruleset_hash(const RulesetContent& content) {
  std::string encoded;
  add_item(encoded, "straits-ruleset-v1");
  for (const policy::PackSource& pack : content.packs) {
    add_item(encoded, pack.name);
    add_item(encoded, std::to_string(pack.files.size()));
    std::vector<const std::pair<std::string, std::string>*> files;
    for (const auto& file : pack.files) files.push_back(&file);
    std::sort(files.begin(), files.end(), [](const auto* a, const auto* b) { return *a < *b; });
    for (const auto* file : files) {
      add_item(encoded, file->first);
      add_item(encoded, file->second);
    }
  }
  add_item(encoded, std::to_string(content.params.size()));
  for (const auto& [name, value] : content.params) {
    add_item(encoded, name);
    add_item(encoded, value);
  }
  return sha256_hex(encoded);
}

std::string packs_json(const RulesetContent& content) {
  json packs = json::array();
  for (const policy::PackSource& pack : content.packs) {
    json files = json::object();
    for (const auto& [name, text] : pack.files) files[name] = text;
    packs.push_back({{"name", pack.name}, {"files", files}});
  }
  json params = json::object();
  for (const auto& [name, value] : content.params) params[name] = value;
  return json{{"packs", packs}, {"params", params}}.dump();
}

Result<RulesetContent> parse_packs_json(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  auto bad = [](const std::string& why) {
    return Error(ErrorCode::kInternal, "a stored rule set's packs: " + why);
  };
  if (!j.is_object() || !j.contains("packs") || !j["packs"].is_array()) {
    return bad("not an object with a list 'packs'");
  }
  RulesetContent content;
  for (const json& pack : j["packs"]) {
    if (!pack.is_object() || !pack.value("name", json()).is_string() ||
        !pack.value("files", json()).is_object()) {
      return bad("a pack is not {name, files}");
    }
    policy::PackSource source;
    source.name = pack["name"].get<std::string>();
    for (const auto& [name, file] : pack["files"].items()) {
      if (!file.is_string()) return bad("file '" + name + "' is not text");
      source.files.emplace_back(name, file.get<std::string>());
    }
    content.packs.push_back(std::move(source));
  }
  // A local: items() of a temporary would outlive the object it walks.
  const json params = j.value("params", json::object());
  for (const auto& [name, value] : params.items()) {
    if (!value.is_string()) return bad("param '" + name + "' is not text");
    content.params[name] = value.get<std::string>();
  }
  return content;
}

Result<std::vector<policy::RuleSetSource>> adopted_timeline(
    const std::map<std::string, store::RulesetRecord>& sets) {
  std::vector<policy::RuleSetSource> timeline;
  for (const auto& [id, set] : sets) {
    if (set.state != "adopted" || !set.effective) continue;
    auto content = parse_packs_json(set.packs_json);
    if (!content) return std::move(content).error().with_context("rule set " + id);
    policy::RuleSetSource source;
    source.hash = set.hash;
    source.from = *set.effective;
    source.packs = std::move(content->packs);
    source.params = std::move(content->params);
    timeline.push_back(std::move(source));
  }
  std::sort(timeline.begin(), timeline.end(),
            [](const auto& a, const auto& b) { return a.from < b.from; });
  return timeline;
}

json ruleset_json(const store::RulesetRecord& set, bool with_files) {
  json j = {{"id", set.id},
            {"name", set.name},
            {"state", set.state},
            {"hash", set.hash},
            {"catalog_fingerprint", set.catalog_fingerprint},
            {"effective", instant_or_null(set.effective)},
            {"created_at", to_iso8601(set.created_at)},
            {"created_by", set.created_by},
            {"proposed_at", instant_or_null(set.proposed_at)},
            {"proposed_by", text_or_null(set.proposed_by)},
            {"adopted_at", instant_or_null(set.adopted_at)},
            {"adopted_by", text_or_null(set.adopted_by)},
            {"retired_at", instant_or_null(set.retired_at)},
            {"retired_by", text_or_null(set.retired_by)}};
  json stored = json::parse(set.packs_json, nullptr, false);
  json packs = json::array();
  if (stored.is_object() && stored.contains("packs") && stored["packs"].is_array()) {
    for (const json& pack : stored["packs"]) {
      if (!pack.is_object()) continue;
      json shown = {{"name", pack.value("name", "")}};
      const json files = pack.value("files", json::object());
      if (with_files) {
        shown["files"] = files;
      } else {
        json names = json::array();
        for (const auto& [name, text] : files.items()) names.push_back(name);
        shown["files"] = names;
      }
      packs.push_back(std::move(shown));
    }
  }
  j["packs"] = std::move(packs);
  j["params"] = stored.is_object() ? stored.value("params", json::object()) : json::object();
  return j;
}

}  // namespace straits::api::internal
