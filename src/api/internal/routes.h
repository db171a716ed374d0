// The route table: every route the server answers, with its handler. The
// dispatcher (server.cc) authenticates, parses, times and counts; handlers
// read the world under a shared lock or hand a Mutation to the writer.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/internal/http.h"
#include "api/internal/writer.h"
#include "api/server.h"
#include "core/clock.h"
#include "store/store.h"

namespace straits::api::internal {

class Metrics;
class WhatifRunner;

struct Context {
  World& world;
  Writer& writer;
  store::Store& store;
  const Clock& clock;
  const ServerOptions& options;
  Metrics& metrics;
  std::function<void()> wake_scheduler;  // a change the scheduling loop should see
  std::function<Result<Server::PassSummary>()> schedule_now;
  std::function<bool()> stopping;  // long-polls answer at once when true
  WhatifRunner* whatif = nullptr;  // what-if runs in the background (routes_whatif.cc)
};

struct Route {
  std::string method;   // GET, POST, PATCH
  std::string pattern;  // "/v1/jobs/{id}"
  std::function<Reply(Context&, Call&)> handler;
  bool authenticated = true;  // false: /healthz, /metrics, /v1/openapi.json
  // A change takes no query parameters (one given is a mistake); a question
  // asked by POST may (POST /v1/rulesets/{id}/diff?against=...).
  bool post_query = false;
};

void add_catalog_routes(std::vector<Route>& routes);
void add_access_routes(std::vector<Route>& routes);
void add_lease_routes(std::vector<Route>& routes);
void add_job_routes(std::vector<Route>& routes);
void add_misc_routes(std::vector<Route>& routes);
void add_agent_routes(std::vector<Route>& routes);
void add_request_routes(std::vector<Route>& routes);  // change requests (maker-checker)
void add_ruleset_routes(std::vector<Route>& routes);  // rule sets (issue 17)
// What a rule set would change: diff, impact, simulation inputs.
void add_ruleset_analysis_routes(std::vector<Route>& routes);
void add_whatif_routes(std::vector<Route>& routes);   // the console's what-if runs (issue 18)
void add_console_routes(std::vector<Route>& routes);  // the web console's read models (issue 18)
std::vector<Route> all_routes();

// Maker-checker of compliance facts (routes_catalog.cc, routes_requests.cc).
// Writer thread, World locked; each throws HttpError when it refuses.
// Records a change request of entity `kind`/`id` (the caller's patch, the
// entity before and as it would be after, the facts it changes), audited;
// returns the request as the API shows it.
json request_change(World& world, store::Batch& batch, const Call& call, const std::string& kind,
                    const std::string& id, const json& patch, const json& before, const json& after,
                    const std::vector<std::string>& facts);
// Replaces the entity's body with `after`: the catalog rebuilt and the rules
// recompiled first (422 naming the field when it breaks them), audited as
// KIND.update by `actor` (with the change request applied, if any). Returns
// the entity as the API shows it.
json apply_entity_change(World& world, store::Batch& batch, const std::string& actor, Instant now,
                         const std::string& kind, const std::string& id, const json& after,
                         const std::string& request_id);
// An approved request's patch, merged into the entity as it is now (409
// when it was retired since), through apply_entity_change.
json apply_approved_patch(World& world, store::Batch& batch, const std::string& actor, Instant now,
                          const std::string& kind, const std::string& id, const json& patch,
                          std::size_t max_items, const std::string& request_id);

// A list page: items with id > `after` (ids sort by creation), at most
// `limit`, and the cursor for the next page (null at the end).
std::string page_json(const std::vector<std::string>& rendered_items, bool more,
                      const std::string& last_id);

}  // namespace straits::api::internal
