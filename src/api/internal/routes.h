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
};

struct Route {
  std::string method;   // GET, POST, PATCH
  std::string pattern;  // "/v1/jobs/{id}"
  std::function<Reply(Context&, Call&)> handler;
  bool authenticated = true;  // false: /healthz, /metrics, /v1/openapi.json
};

void add_catalog_routes(std::vector<Route>& routes);
void add_access_routes(std::vector<Route>& routes);
void add_lease_routes(std::vector<Route>& routes);
void add_job_routes(std::vector<Route>& routes);
void add_misc_routes(std::vector<Route>& routes);
void add_agent_routes(std::vector<Route>& routes);
std::vector<Route> all_routes();

// A list page: items with id > `after` (ids sort by creation), at most
// `limit`, and the cursor for the next page (null at the end).
std::string page_json(const std::vector<std::string>& rendered_items, bool more,
                      const std::string& last_id);

}  // namespace straits::api::internal
