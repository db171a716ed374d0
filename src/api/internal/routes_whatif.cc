// What-if runs of the console (issue 18; internal/whatif.h):
//   GET  /v1/scenarios                 the shipped scenarios
//   POST /v1/whatif                    start a comparison in the background
//        {"baseline": {"scenario": ID} | {"live": {"days": N}},
//         "whatif":   {"scenario": ID} | {"ruleset": ID}}
//        two scenarios side by side, or the live store's last N days under
//        the rules in force and under a proposed rule set. 202 when queued;
//        429 when the queue is full.
//   GET  /v1/whatif                    the runs kept, newest first
//   GET  /v1/whatif/{id}               one run, its progress and summary
//   GET  /v1/whatif/{id}/report        its comparison page (text/html)
// Starting a run is for admin and compliance (it costs the server minutes of
// a core); reading runs for them and the auditor. The page is read with the
// bearer token, or with the `key` of the run's "report" link (a tab opened
// from the console sends no token); it is served with a CSP of its own
// (server.cc) and sandboxed.
#include "api/internal/auth.h"
#include "api/internal/routes.h"
#include "api/internal/whatif.h"

namespace straits::api::internal {
namespace {

constexpr std::int64_t kMaxLiveDays = 366;

void require_reader(const Principal& who) {
  require_role(who, {"admin", "compliance", "auditor"}, "read what-if runs");
}

WhatifRunner& runner(Context& ctx) {
  if (ctx.whatif == nullptr) fail(503, "unavailable", "what-if runs are off on this server");
  return *ctx.whatif;
}

Reply list_scenarios_route(Context& ctx, Call& call) {
  check_query(call, {});
  json items = json::array();
  for (const ScenarioEntry& s : list_scenarios(ctx.options.scenarios_dir)) {
    items.push_back({{"id", s.id}, {"title", s.title}, {"file", s.file}});
  }
  return reply(200, {{"items", items}});
}

// The work the body asks for; 400 naming the field when it is not one of the
// two forms, 404 naming it for an unknown scenario or rule set.
WhatifWork work_of(Context& ctx, const Call& call, WhatifSpec& spec) {
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"baseline", "whatif"}, ctx.options.max_items);
  auto baseline = f.object("baseline", {"scenario", "live"});
  auto whatif = f.object("whatif", {"scenario", "ruleset"});
  if (!baseline)
    bad_field("baseline",
              "'baseline' is required: {\"scenario\": ID} or {\"live\": {\"days\": N}}");
  if (!whatif) bad_field("whatif", "'whatif' is required: {\"scenario\": ID} or {\"ruleset\": ID}");
  if (baseline->has("scenario") == baseline->has("live")) {
    bad_field("baseline", "'baseline' takes one of 'scenario' or 'live'");
  }
  if (whatif->has("scenario") == whatif->has("ruleset")) {
    bad_field("whatif", "'whatif' takes one of 'scenario' or 'ruleset'");
  }
  spec.baseline = baseline->raw();
  spec.whatif = whatif->raw();
  if (baseline->has("scenario")) {
    const std::string from = *baseline->text("scenario", true, 200);
    if (!whatif->has("scenario")) {
      bad_field("whatif.ruleset",
                "a scenario baseline is compared with another scenario ('whatif.scenario'); a "
                "rule set is replayed over the live store ('baseline.live')");
    }
    const std::string to = *whatif->text("scenario", true, 200);
    return scenario_work(ctx.options.scenarios_dir, ctx.options.scenarios_root, from, to);
  }
  auto live = baseline->object("live", {"days"});
  const auto days = live->integer("days", true, 1, kMaxLiveDays);
  if (!whatif->has("ruleset")) {
    bad_field("whatif.scenario",
              "the live store is replayed under a proposed rule set ('whatif.ruleset')");
  }
  const std::string ruleset = *whatif->text("ruleset", true, 200);
  return live_work(ctx.world, call.now, static_cast<int>(*days), ruleset);
}

Reply start_run(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "compliance"}, "start a what-if run");
  WhatifRunner& runs = runner(ctx);
  WhatifSpec spec;
  WhatifWork work = work_of(ctx, call, spec);
  auto queued = runs.submit(std::move(spec), call.who.name, std::move(work));
  if (!queued) {
    fail(429, "too_many_runs",
         "a what-if runs and " + std::to_string(WhatifRunner::kMaxQueued) +
             " wait already: retry when one has finished");
  }
  return reply(202, *queued);
}

Reply list_runs(Context& ctx, Call& call) {
  require_reader(call.who);
  check_query(call, {});
  return reply(200, runner(ctx).list());
}

Reply get_run(Context& ctx, Call& call) {
  require_reader(call.who);
  check_query(call, {});
  auto run = runner(ctx).get(call.params.at("id"));
  if (!run) not_found("what-if run '" + call.params.at("id") + "'");
  return reply(200, *run);
}

// Unauthenticated as a route (a tab sends no token): the caller is either
// signed in (a token given and valid) or holds the run's report key.
Reply get_report(Context& ctx, Call& call) {
  check_query(call, {"key"});
  const std::string id = call.params.at("id");
  WhatifRunner& runs = runner(ctx);
  if (!call.who.role.empty()) {
    require_reader(call.who);
  } else {
    const auto key = query_text(call, "key");
    if (!key) fail(401, "unauthenticated", "a bearer token, or the 'key' of the run's report link");
    if (!runs.report_key_matches(id, *key)) not_found("what-if run '" + id + "'");
  }
  auto page = runs.report(id);
  if (!page) {
    if (!runs.get(id)) not_found("what-if run '" + id + "'");
    fail(409, "not_done", "what-if run '" + id + "' has no page: it is not done");
  }
  return {200, std::move(*page)};
}

}  // namespace

void add_whatif_routes(std::vector<Route>& routes) {
  routes.push_back({"GET", "/v1/scenarios", list_scenarios_route});
  routes.push_back({"POST", "/v1/whatif", start_run});
  routes.push_back({"GET", "/v1/whatif", list_runs});
  routes.push_back({"GET", "/v1/whatif/{id}", get_run});
  routes.push_back({"GET", "/v1/whatif/{id}/report", get_report, false});
}

}  // namespace straits::api::internal
