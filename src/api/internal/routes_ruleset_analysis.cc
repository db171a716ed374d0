// What a rule set would change, asked before it is adopted (issue 17):
//   POST /v1/rulesets/{id}/diff?against=adopted|RULESET   the symbolic diff
//        (policy/diff.h) of the rules in force, or of another set, against it;
//   POST /v1/rulesets/{id}/impact                        what adopting it would
//        do to the fleet as the store holds it now (impact.h);
//   GET  /v1/rulesets/{id}/simulation?days=N             the inputs of
//        `straits rules impact --simulate`: the last N days of jobs as a
//        native workload, the catalog and leases, and both rule sets' files.
// Read-only, for the roles that read every set (admin, auditor, compliance).
// The set is compiled outside the world's lock, over the catalog in force;
// when the catalog changes meanwhile, it is compiled again.
#include "api/internal/auth.h"
#include "api/internal/impact.h"
#include "api/internal/routes.h"
#include "api/internal/rulesets.h"
#include "policy/diff.h"

namespace straits::api::internal {
namespace {

constexpr std::int64_t kMaxSimulationDays = 366;
const Duration kDefaultDiffSpan = Duration::days(730);

void require_analyst(const Principal& who, std::string_view doing) {
  require_role(who, {"admin", "auditor", "compliance"}, doing);
}

const store::RulesetRecord& stored_set(const World& world, const std::string& id) {
  auto it = world.rulesets.find(id);
  if (it == world.rulesets.end()) not_found("rule set '" + id + "'");
  return it->second;
}

// A stored set compiled over `policy`'s catalog (422 when it no longer
// compiles: the catalog changed under it since it was pushed).
policy::Engine compile(const store::RulesetRecord& set, const Policy& policy) {
  RulesetContent content = stored_content(set);
  auto engine = policy::Engine::load_sources(policy.catalog, content.packs, content.params);
  if (!engine) {
    throw HttpError{422, "invalid_rules",
                    "rule set " + set.id + " does not compile against the catalog in force: " +
                        engine.error().to_string(),
                    "", nullptr};
  }
  return std::move(engine).value();
}

// The policy in force and the sets named, copied under the shared lock.
struct Snapshot {
  std::shared_ptr<const Policy> policy;
  store::RulesetRecord set;
  std::optional<store::RulesetRecord> against;  // another set, or the rules in force
};

Snapshot snapshot(const World& world, const std::string& id, const std::string& against) {
  std::shared_lock lock(world.mutex);
  Snapshot s{world.policy, stored_set(world, id), std::nullopt};
  if (against != "adopted") s.against = stored_set(world, against);
  return s;
}

Reply diff_set(Context& ctx, Call& call) {
  require_analyst(call.who, "diff rule sets");
  check_query(call, {"against"});
  const std::string against = query_text(call, "against").value_or("adopted");
  json body = call.body.empty() ? json::object() : Fields::parse_object(call.body);
  Fields f(body, "", {"from", "to"}, ctx.options.max_items);
  const Instant from = f.instant("from").value_or(call.now);
  const Instant to = f.instant("to").value_or(from + kDefaultDiffSpan);
  if (!(from < to)) bad_field("to", "'to' must be after 'from': the range is empty");
  const std::string id = call.params.at("id");
  Snapshot s = snapshot(ctx.world, id, against);
  if (s.against && s.against->catalog_fingerprint != s.set.catalog_fingerprint) {
    throw HttpError{422, "different_catalogs",
                    "rule sets " + s.against->id + " and " + s.set.id +
                        " were checked against different catalogs (" +
                        s.against->catalog_fingerprint.substr(0, 12) + " and " +
                        s.set.catalog_fingerprint.substr(0, 12) +
                        "): a diff compares rules over one catalog; push them again over the "
                        "catalog in force",
                    "against", nullptr};
  }
  const Policy& policy = *s.policy;
  policy::Engine with = compile(s.set, policy);
  std::optional<policy::Engine> other;
  if (s.against) other = compile(*s.against, policy);
  const policy::Engine& base = other ? *other : *policy.engine;
  policy::DiffOptions options;
  options.from = from;
  options.to = to;
  auto diff = policy::diff_policies(policy.catalog, base, with, options);
  if (!diff) fail_with(diff.error());
  json out = json::parse(policy::diff_to_json(*diff, policy.catalog));
  out["base"] = s.against ? json{{"ruleset", s.against->id}, {"hash", s.against->hash}}
                          : json{{"ruleset", "adopted"}, {"hash", policy.ruleset_at(from)}};
  out["with"] = {{"ruleset", s.set.id}, {"hash", s.set.hash}};
  return reply(200, out);
}

Reply impact_set(Context& ctx, Call& call) {
  require_analyst(call.who, "weigh the impact of a rule set");
  check_query(call, {});
  json body = call.body.empty() ? json::object() : Fields::parse_object(call.body);
  Fields f(body, "", {"from"}, ctx.options.max_items);
  const Instant from = f.instant("from").value_or(call.now);
  if (from < call.now) bad_field("from", "'from' is in the past: a rule set takes effect ahead");
  const std::string id = call.params.at("id");
  for (int attempt = 0; attempt < 3; ++attempt) {
    Snapshot s = snapshot(ctx.world, id, "adopted");
    policy::Engine proposed = compile(s.set, *s.policy);
    std::shared_lock lock(ctx.world.mutex);
    if (ctx.world.policy != s.policy) continue;  // the catalog changed: compile again
    std::string text = ruleset_impact_json(ctx.world, proposed, from, call.now);
    json out = json::parse(text);
    out["ruleset"] = {{"id", s.set.id}, {"hash", s.set.hash}};
    out["in_force"]["hash"] = s.policy->ruleset_at(call.now);
    return reply(200, out);
  }
  fail(503, "unavailable", "the catalog kept changing while the impact was computed: retry");
}

json set_files(const RulesetContent& content) {
  json packs = json::array();
  for (const auto& p : content.packs) {
    json files = json::object();
    for (const auto& [name, text] : p.files) files[name] = text;
    packs.push_back({{"name", p.name}, {"files", files}});
  }
  return {{"packs", packs}, {"params", content.params}};
}

Reply simulation_inputs(Context& ctx, Call& call) {
  require_analyst(call.who, "export a rule set's simulation inputs");
  check_query(call, {"days"});
  const std::int64_t days = query_integer(call, "days", 1, kMaxSimulationDays).value_or(30);
  const std::string id = call.params.at("id");
  std::shared_lock lock(ctx.world.mutex);
  const store::RulesetRecord& set = stored_set(ctx.world, id);
  const Instant start = call.now - Duration::days(days);
  const store::RulesetRecord* in_force = ruleset_in_force(ctx.world, call.now);
  if (in_force == nullptr) fail(409, "conflict", "no adopted rule set is in force to compare with");
  json leases = json::array();
  const sched::ClusterState fleet = fleet_state(ctx.world, start);  // alive through the loop
  for (const sched::Lease& l : fleet.leases()) {
    leases.push_back({{"id", l.id.str()},
                      {"org", l.org.str()},
                      {"pool", l.pool.str()},
                      {"gpus", l.gpus},
                      {"start", to_iso8601(l.start)},
                      {"end", to_iso8601(l.end)},
                      {"price_per_gpu_hour", to_string(l.price_per_gpu_hour)}});
  }
  json out = {{"start", to_iso8601(start)},
              {"days", days},
              {"catalog", catalog_files(ctx.world)},
              {"workload", native_workload_jsonl(ctx.world, start, call.now)},
              {"leases", leases},
              {"in_force", set_files(stored_content(*in_force))},
              {"proposed", set_files(stored_content(set))}};
  out["in_force"]["hash"] = in_force->hash;
  out["proposed"]["hash"] = set.hash;
  return reply(200, out);
}

}  // namespace

void add_ruleset_analysis_routes(std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/rulesets/{id}/diff", diff_set, true, true});
  routes.push_back({"POST", "/v1/rulesets/{id}/impact", impact_set});
  routes.push_back({"GET", "/v1/rulesets/{id}/simulation", simulation_inputs});
}

}  // namespace straits::api::internal
