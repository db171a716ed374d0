#include "api/server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>

#include "api/internal/auth.h"
#include "api/internal/capacity.h"
#include "api/internal/console_files.h"
#include "api/internal/http_server.h"
#include "api/internal/metrics.h"
#include "api/internal/routes.h"
#include "api/internal/rulesets.h"
#include "api/internal/scheduling.h"
#include "api/internal/signing.h"
#include "api/internal/whatif.h"
#include "api/internal/world.h"
#include "api/internal/writer.h"
#include "catalog/load.h"
#include "core/private_file.h"

namespace straits::api {

using namespace internal;

namespace {

// Reads (GET) run on the I/O threads, changes on the worker pool. Measured with
// bench/api/run.sh on 2 cores (docs/benchmarks.md, 2026-12-07): with every handler on the
// pool, the hand-off to a worker and back cost a third of the GETs a second and half of the
// 100-job lists; on the I/O threads single GETs match httplib and lists win back half the gap.
// A read holds the world's shared lock briefly (answers are rendered in memory); the writer's
// exclusive hold is usually as short (a catalog entity change, which recompiles the rules,
// holds it longer, and reads on the I/O threads wait that long). The reads that go to the
// store (the audit log and its verification, which reads the whole chain) stay on the pool:
// a disk read must not stall the connections of an I/O thread.
bool runs_on_io_thread(const HttpRequest& request) {
  return request.method == "GET" && request.target.rfind("/v1/audit", 0) != 0;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A date of the seed file (examples/serve/seed.json): ISO 8601 as the API takes it, or
// relative to the first start, a sign and a duration ("+30d", "-1d", "+2h", "+P1DT2H"), so
// the example world is as alive years after it was written as on that day. `now` is the
// server's clock when the seed is applied (to an empty store only, once).
Result<json> seed_date(const json& value, Instant now) {
  if (!value.is_string()) return value;  // the API says what is wrong with it
  const std::string text = value.get<std::string>();
  if (text.empty() || (text[0] != '+' && text[0] != '-')) return value;
  // One sign, then a duration: "+-1d" and a bare sign are mistakes, not offsets.
  const std::string_view after_sign = std::string_view(text).substr(1);
  auto offset =
      after_sign.empty() || after_sign[0] == '+' || after_sign[0] == '-'
          ? Result<Duration>(Error(ErrorCode::kInvalidArgument, "one sign, then a duration"))
          : parse_duration(text[0] == '+' ? after_sign : std::string_view(text));
  if (!offset) {
    return Error(ErrorCode::kInvalidArgument,
                 "relative date '" + text + "': " + offset.error().message() +
                     " (a date is ISO 8601, or relative to the first start: +30d, -1d, +2h)");
  }
  return json(to_iso8601(now + *offset));
}

// Resolves the relative dates of the seed's leases (start, end) and jobs (deadline) against
// `now`, in whole seconds; an error names the file and the field.
Status resolve_seed_dates(json& seed, Instant now, const std::filesystem::path& file) {
  const Instant base = Instant::from_unix_seconds(now.unix_seconds());
  const std::pair<const char*, std::vector<const char*>> dated[] = {{"leases", {"start", "end"}},
                                                                    {"jobs", {"deadline"}}};
  for (const auto& [list, fields] : dated) {
    auto items = seed.find(list);
    if (items == seed.end() || !items->is_array()) continue;
    for (std::size_t i = 0; i < items->size(); ++i) {
      json& item = (*items)[i];
      for (const char* field : fields) {
        if (!item.is_object() || !item.contains(field)) continue;
        auto resolved = seed_date(item[field], base);
        if (!resolved) {
          return Error(ErrorCode::kInvalidArgument, file.string() + ": " + list + "[" +
                                                        std::to_string(i) + "]." + field + ": " +
                                                        resolved.error().message());
        }
        item[field] = std::move(resolved).value();
      }
    }
  }
  return ok();
}

// The managed entities of a catalog folder, as the API's bodies.
std::vector<store::EntityRecord> entities_of(const catalog::Catalog& c, Instant now) {
  std::vector<store::EntityRecord> out;
  auto add = [&](const char* kind, const std::string& id, json body) {
    // Empty optional texts are left out, as in the catalog files.
    for (auto it = body.begin(); it != body.end();) {
      it = it->is_string() && it->get<std::string>().empty() ? body.erase(it) : std::next(it);
    }
    out.push_back({kind, id, body.dump(), std::nullopt, now});
  };
  for (const auto& o : c.operators()) {
    add("operator", o.id.str(),
        {{"id", o.id.str()},
         {"name", o.name},
         {"hq", o.hq.str()},
         {"parent", o.parent ? o.parent->str() : ""},
         {"notes", o.notes}});
  }
  for (const auto& s : c.sites()) {
    add("site", s.id.str(),
        {{"id", s.id.str()},
         {"name", s.name},
         {"operator", s.operator_id.str()},
         {"country", s.country.str()},
         {"city", s.city},
         {"state_funded", s.state_funded},
         {"notes", s.notes}});
  }
  for (const auto& p : c.pools()) {
    add("pool", p.id.str(),
        {{"id", p.id.str()},
         {"site", p.site.str()},
         {"chip", p.chip.str()},
         {"nodes", p.nodes},
         {"gpus_per_node", p.gpus_per_node},
         {"interconnect", p.interconnect},
         {"price_per_gpu_hour", to_string(p.price_per_gpu_hour)},
         {"price_source", p.price_source},
         {"owner", p.owner ? p.owner->str() : ""},
         {"notes", p.notes}});
  }
  for (const auto& o : c.orgs()) {
    add("org", o.id.str(),
        {{"id", o.id.str()},
         {"name", o.name},
         {"hq", o.hq.str()},
         {"parent", o.parent ? o.parent->str() : ""},
         {"notes", o.notes}});
  }
  for (const auto& l : c.licences()) {
    json chips = json::array(), countries = json::array();
    for (const auto& x : l.chips) chips.push_back(x.str());
    for (const auto& x : l.countries) countries.push_back(x.str());
    add("licence", l.id.str(),
        {{"id", l.id.str()},
         {"name", l.name},
         {"holder", l.holder.id},
         {"chips", chips},
         {"countries", countries},
         {"valid_from", to_iso_date(l.valid_from)},
         {"valid_until", l.valid_until ? to_iso_date(*l.valid_until) : ""},
         {"issuer", l.issuer},
         {"reference", l.reference},
         {"notes", l.notes}});
  }
  for (const auto& d : c.datasets()) {
    add("dataset", d.id.str(),
        {{"id", d.id.str()},
         {"name", d.name},
         {"owner", d.owner.str()},
         {"origin", d.origin.str()},
         {"class", std::string(to_string(d.data_class))},
         {"size_tb", d.size_tb},
         {"notes", d.notes}});
  }
  return out;
}

std::string log_line(const json& fields) {
  return fields.dump();
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  const Clock& clock;
  std::unique_ptr<store::Store> store;
  World world;
  Metrics metrics;
  std::unique_ptr<Writer> writer;
  std::unique_ptr<SchedulingLoop> loop;
  std::unique_ptr<Context> context;
  std::vector<Route> routes;
  std::vector<std::regex> route_paths;  // routes[i]'s pattern, {param} as a group
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<WhatifRunner> whatif;  // the console's what-if runs, one at a time
  std::optional<std::string> bootstrap;
  LoadedKey signing;  // signs the audit chain's heads (issue 15)
  std::atomic<bool> stopped{false};

  Impl(ServerOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  void log(json fields) {
    if (!options.log) return;
    fields["ts"] = to_iso8601(clock.now());
    options.log(log_line(fields));
  }

  // Memory ran ahead of the store (a commit failed, or a mutation threw
  // after writing to its batch): read the store again. Logged, because it
  // costs a whole load: refused requests must never cause one.
  Status reload() {
    log({{"level", "warning"}, {"msg", "reloading the state from the store"}});
    auto snapshot = store->load();
    if (!snapshot) return std::move(snapshot).error();
    std::unique_lock lock(world.mutex);
    World fresh;
    fresh.base_texts = world.base_texts;
    fresh.catalog_name = world.catalog_name;
    fresh.rule_dirs = world.rule_dirs;
    STRAITS_TRY(fresh.load(std::move(snapshot).value()));
    world.entities = std::move(fresh.entities);
    world.policy = std::move(fresh.policy);
    world.users = std::move(fresh.users);
    world.tokens = std::move(fresh.tokens);
    world.token_by_hash = std::move(fresh.token_by_hash);
    world.leases = std::move(fresh.leases);
    world.jobs = std::move(fresh.jobs);
    world.jobs_by_org = std::move(fresh.jobs_by_org);
    world.queued_by_org = std::move(fresh.queued_by_org);
    {
      std::lock_guard agents_lock(world.agent_mutex);
      // Keep what is memory only (when each agent was last heard).
      for (auto& [id, a] : fresh.agents) {
        auto old = world.agents.find(id);
        if (old == world.agents.end()) continue;
        a.last_seen = old->second.last_seen;
        a.last_seen_at = old->second.last_seen_at;
      }
      world.agents = std::move(fresh.agents);
      world.agent_by_name = std::move(fresh.agent_by_name);
      world.change_requests = std::move(fresh.change_requests);
      world.next_request = fresh.next_request;
      world.rulesets = std::move(fresh.rulesets);
      world.next_ruleset = fresh.next_ruleset;
      world.start_claims.clear();
    }
    world.next_agent = fresh.next_agent;
    world.next_lease = fresh.next_lease;
    world.next_job = fresh.next_job;
    world.next_user = fresh.next_user;
    world.next_token = fresh.next_token;
    world.audit_seq = fresh.audit_seq;
    ++world.lease_revision;
    return ok();
  }

  // The packs of --rules as a rule set's content.
  Result<RulesetContent> rules_of_options() const {
    auto packs = policy::read_pack_sources(options.rule_dirs);
    if (!packs) return std::move(packs).error();
    return RulesetContent{std::move(packs).value(), {}};
  }

  // The rules in force come from the store's adopted rule sets (issue 17).
  // A store without one gets the packs of --rules as its first, "initial",
  // adopted from the epoch: every decision names a set from the first one.
  // A store with adopted sets keeps them (a warning when --rules differ).
  Status settle_rules(Witness* witness) {
    const Instant now = clock.now();
    auto content = rules_of_options();
    const bool adopted = std::any_of(world.rulesets.begin(), world.rulesets.end(),
                                     [](const auto& r) { return r.second.state == "adopted"; });
    if (adopted) {
      const std::string in_force = world.policy->ruleset_at(now);
      if (!content || ruleset_hash(*content) != in_force) {
        log({{"level", "warning"},
             {"msg",
              "the rules given (--rules) differ from the rule set in force; the store's "
              "adopted rule sets win (straits rules push/adopt to change them)"},
             {"ruleset", in_force}});
      }
      return ok();
    }
    if (!content) return std::move(content).error();
    store::RulesetRecord set;
    set.id = make_id("rs", world.next_ruleset++);
    set.name = "initial";
    set.state = "adopted";
    set.hash = ruleset_hash(*content);
    set.packs_json = packs_json(*content);
    set.catalog_fingerprint = world.policy->catalog_fingerprint;
    set.effective = Instant::from_unix_seconds(0);
    set.created_at = now;
    set.proposed_at = now;
    set.adopted_at = now;
    set.created_by = set.proposed_by = set.adopted_by = "system";
    store::Batch batch;
    batch.rulesets.push_back(set);
    const std::string stamp = json{{"ruleset", set.hash}}.dump();
    const std::string body = ruleset_json(set, false).dump();
    batch.audit.push_back({now, "system", "ruleset.create", "rulesets/" + set.id, "", body, stamp});
    batch.audit.push_back({now, "system", "ruleset.adopt", "rulesets/" + set.id, "", body, stamp});
    auto committed = store->commit(batch);
    if (!committed) return std::move(committed).error();
    if (!committed->empty()) world.audit_seq = committed->back().seq;  // /healthz, GET /v1/audit
    if (auto head = store->last_signed_head(); witness && head) {
      STRAITS_TRY(witness->append(*head));
    }
    world.rulesets[set.id] = set;
    auto built = world.build_policy(world.entities);
    if (!built) return std::move(built).error();
    world.policy = *built;
    return ok();
  }

  // Runs a route's handler as `who` without HTTP (the seed file).
  Reply call_as(const Principal& who, const std::string& method, const std::string& pattern,
                std::map<std::string, std::string> params, const json& body) {
    for (Route& r : routes) {
      if (r.method != method || r.pattern != pattern) continue;
      Call call;
      call.method = method;
      call.path = pattern;
      call.params = std::move(params);
      call.body = body.dump();
      call.who = who;
      call.now = clock.now();
      try {
        return r.handler(*context, call);
      } catch (const HttpError& e) {
        return {e.status, error_body(e)};
      }
    }
    return {404, ""};
  }

  // Answers one request for `route`; path parameters in pattern order.
  // A handler that asks to be run again later (a long-poll with nothing to say yet) sets
  // `park`: nothing is counted or logged until it answers.
  Reply answer(const Route& route, const std::string& path,
               const std::vector<std::string>& path_params,
               std::multimap<std::string, std::string> query, std::string body,
               const std::string& authorization, std::chrono::steady_clock::time_point arrived,
               std::optional<Call::Park>& park) {
    const auto started = std::chrono::steady_clock::now();
    park.reset();
    Call call;
    call.arrived = arrived;
    call.method = route.method;
    call.path = path;
    std::size_t param = 0;
    for (std::size_t at = route.pattern.find('{'); at != std::string::npos;
         at = route.pattern.find('{', at + 1)) {
      const std::size_t end = route.pattern.find('}', at);
      call.params[route.pattern.substr(at + 1, end - at - 1)] = path_params.at(param++);
    }
    call.query = std::move(query);
    call.body = std::move(body);
    call.now = clock.now();
    Reply out;
    try {
      if (route.authenticated) {
        std::shared_lock lock(world.mutex);
        call.who = authenticate(world, authorization);
      } else if (!authorization.empty()) {
        // Open routes that say more to a signed-in caller (a what-if's page): a token that
        // does not authenticate is ignored, as if none were given.
        std::shared_lock lock(world.mutex);
        try {
          call.who = authenticate(world, authorization);
        } catch (const HttpError&) {
          call.who = {};
        }
      }
      // No change takes query parameters: one given is a mistake, not ignored.
      if (route.method != "GET" && !route.post_query) check_query(call, {});
      out = route.handler(*context, call);
      if (call.park) {
        park = call.park;
        return out;
      }
    } catch (const HttpError& e) {
      out = {e.status, error_body(e)};
    } catch (const std::exception& e) {
      out = {500, error_body({500, "internal", e.what(), "", nullptr})};
    } catch (...) {
      out = {500, error_body({500, "internal", "unexpected failure", "", nullptr})};
    }
    const Duration took =
        Duration::microseconds(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count());
    metrics.record(route.method, route.pattern, out.status, took);
    if (options.log && route.pattern != "/metrics" && route.pattern != "/healthz") {
      log({{"level", out.status >= 500 ? "error" : "info"},
           {"msg", "request"},
           {"method", route.method},
           {"path", path},
           {"route", route.pattern},
           {"status", out.status},
           {"ms", took.count_microseconds() / 1000.0},
           {"user", call.who.user_id}});
    }
    return out;
  }

  void install_routes() {
    for (const Route& route : routes) {
      route_paths.emplace_back(
          std::regex_replace(route.pattern, std::regex("\\{[a-z_]+\\}"), "([^/]+)"));
    }
  }

  // The route `method` `path` names (its index), with its path parameters; -1 when none.
  int find_route(const std::string& method, const std::string& path,
                 std::vector<std::string>& params) const {
    for (std::size_t i = 0; i < routes.size(); ++i) {
      std::smatch match;
      if (routes[i].method != method || !std::regex_match(path, match, route_paths[i])) continue;
      params.clear();
      for (std::size_t m = 1; m < match.size(); ++m) params.push_back(match[m].str());
      return static_cast<int>(i);
    }
    return -1;
  }

  // What the HTTP server answers: the route, or 404, or 405 when the path exists for
  // another method; /metrics as Prometheus text.
  HttpAnswer serve(const HttpRequest& request) {
    const std::size_t mark = request.target.find('?');
    // The console's files (no token: the page holds no data), by the path as sent.
    if (auto console = console_answer(
            request.method, std::string_view(request.target).substr(0, mark), options.web_dir)) {
      return std::move(*console);
    }
    const std::string path = percent_decode(request.target.substr(0, mark), false);
    std::multimap<std::string, std::string> query;
    if (mark != std::string::npos) query = parse_query(request.target.substr(mark + 1), true);
    HttpAnswer out;
    std::vector<std::string> params;
    const int index = find_route(request.method, path, params);
    if (index < 0) {
      std::string allowed;
      // One match a route (not a search from each): a stream of misses stays cheap.
      for (std::size_t i = 0; i < routes.size(); ++i) {
        if (std::regex_match(path, route_paths[i]) &&
            allowed.find(routes[i].method) == std::string::npos) {
          allowed += (allowed.empty() ? "" : ", ") + routes[i].method;
        }
      }
      if (allowed.empty()) {
        out.status = 404;
        out.body = error_body({404, "not_found", "no route " + path, "", nullptr});
      } else {
        out.status = 405;
        out.headers.emplace_back("Allow", allowed);
        out.body = error_body(
            {405, "method_not_allowed",
             request.method + " is not allowed on " + path + " (allowed: " + allowed + ")", "",
             nullptr});
      }
      return out;
    }
    const Route& route = routes[static_cast<std::size_t>(index)];
    std::optional<Call::Park> park;
    Reply reply = answer(route, path, params, std::move(query), request.body, request.authorization,
                         request.arrived, park);
    if (park) {
      out.park = HttpAnswer::Park{park->until, park->generation};
      return out;
    }
    out.status = reply.status;
    out.body = std::move(reply.body);
    if (route.pattern == "/metrics") out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (route.pattern == "/v1/whatif/{id}/report" && out.status == 200) {
      out.content_type = "text/html; charset=utf-8";
      out.headers.emplace_back("Content-Security-Policy", kReportCsp);
      out.headers.emplace_back("Referrer-Policy", "no-referrer");
    }
    return out;
  }

  // %XX escapes (and '+' as a space in query strings), as clients encode them.
  static std::string percent_decode(const std::string& text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
        out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
        i += 2;
      } else if (plus_is_space && text[i] == '+') {
        out += ' ';
      } else {
        out += text[i];
      }
    }
    return out;
  }

  static std::multimap<std::string, std::string> parse_query(const std::string& text, bool decode) {
    std::multimap<std::string, std::string> query;
    std::istringstream pairs(text);
    std::string pair;
    while (std::getline(pairs, pair, '&')) {
      if (pair.empty() && decode) continue;
      const std::size_t eq = pair.find('=');
      std::string key = pair.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      if (decode) {
        key = percent_decode(key, true);
        value = percent_decode(value, true);
      }
      query.emplace(std::move(key), std::move(value));
    }
    return query;
  }

  Status seed(const std::filesystem::path& file) {
    json seed = json::parse(read_file(file), nullptr, false);
    if (seed.is_discarded() || !seed.is_object()) {
      return Error(ErrorCode::kInvalidArgument, file.string() + ": not a JSON object");
    }
    for (const auto& [key, value] : seed.items()) {
      if (key != "users" && key != "leases" && key != "jobs" && key.rfind('_', 0) != 0) {
        return Error(ErrorCode::kInvalidArgument,
                     file.string() + ": unknown key '" + key + "' (users, leases, jobs)");
      }
    }
    STRAITS_TRY(resolve_seed_dates(seed, clock.now(), file));
    Principal admin;
    {
      std::shared_lock lock(world.mutex);
      for (const auto& [id, u] : world.users) {
        if (u.role == "admin") admin = {u.id, u.name, "admin", "", "", ""};
      }
    }
    // Seeded users' tokens go to a file only their owner may read; a log is
    // read by many (and kept, shipped, indexed): no secret goes there.
    json tokens = json::array();
    for (const json& user : seed.value("users", json::array())) {
      Reply r = call_as(admin, "POST", "/v1/users", {}, user);
      if (r.status != 201) {
        return Error(ErrorCode::kInvalidArgument,
                     file.string() + ": user " + user.dump() + ": " + r.body);
      }
      json made = json::parse(r.body);
      log({{"level", "info"},
           {"msg", "seed user"},
           {"user", made["name"]},
           {"role", made["role"]}});
      if (!options.seed_tokens) continue;  // no file: the tokens are not kept anywhere
      Reply token = call_as(admin, "POST", "/v1/users/{id}/tokens",
                            {{"id", made["id"].get<std::string>()}}, json{{"label", "seed"}});
      json secret = json::parse(token.body, nullptr, false);
      if (token.status != 201 || !secret.is_object()) {
        return Error(ErrorCode::kInternal, file.string() + ": a token for user " +
                                               made["name"].dump() + ": " + token.body);
      }
      tokens.push_back({{"user", made["name"]},
                        {"role", made["role"]},
                        {"org", made.value("org", json(nullptr))},
                        {"token", secret.value("secret", "")}});
    }
    if (options.seed_tokens && !tokens.empty()) {
      STRAITS_TRY(
          create_private_file(*options.seed_tokens, json{{"users", tokens}}.dump(2) + "\n"));
      log({{"level", "info"},
           {"msg", "seed tokens written"},
           {"file", options.seed_tokens->string()},
           {"users", tokens.size()}});
    }
    for (const json& job : seed.value("jobs", json::array())) {
      Reply r = call_as(admin, "POST", "/v1/jobs", {}, job);
      if (r.status != 201) {
        return Error(ErrorCode::kInvalidArgument,
                     file.string() + ": job " + job.dump() + ": " + r.body);
      }
    }
    for (const json& lease : seed.value("leases", json::array())) {
      Reply r = call_as(admin, "POST", "/v1/leases", {}, lease);
      if (r.status != 201) {
        return Error(ErrorCode::kInvalidArgument,
                     file.string() + ": lease " + lease.dump() + ": " + r.body);
      }
    }
    return ok();
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
  impl_->whatif.reset();  // joins its worker (cancelled by stop)
  if (impl_->loop) impl_->loop->stop();
  if (impl_->writer) impl_->writer->stop();
  impl_->world.changed.on_notify(nullptr);  // the HTTP server goes before the world
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options, const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  Impl& s = *impl;
  const std::string where = store::describe(s.options.store);
  auto opened = store::Store::open(s.options.store, clock);
  if (!opened) return std::move(opened).error();
  s.store = std::move(opened).value();
  // Whether this start binds the tables to the chain for the first time.
  bool baseline = false;
  if (auto before = s.store->status(); before) {
    for (const auto& name : before->pending) baseline = baseline || name.starts_with("0005 ");
  }
  auto migrated = s.store->migrate();
  if (!migrated) return std::move(migrated).error();
  STRAITS_TRY(s.store->claim_writer());
  // The signing key before the first commit: every head is signed.
  auto key = load_signing_key(s.options);
  if (!key) return std::move(key).error();
  s.signing = std::move(key).value();
  if (!s.signing.warning.empty()) s.log({{"level", "warning"}, {"msg", s.signing.warning}});
  s.store->set_signing_key(s.signing.key);
  std::unique_ptr<Witness> witness;
  if (s.options.witness) {
    auto opened_witness = Witness::open(*s.options.witness);
    if (!opened_witness) return std::move(opened_witness).error();
    witness = std::move(opened_witness).value();
  }
  // chips and countries: the facts, read from the catalog folder every start.
  for (const char* file : {"chips.yaml", "countries.yaml"}) {
    const auto path = s.options.catalog_dir / file;
    if (!std::filesystem::exists(path)) {
      return Error(ErrorCode::kNotFound, "catalog: " + path.string() + " is missing");
    }
    s.world.base_texts[file] = read_file(path);
  }
  s.world.catalog_name = s.options.catalog_dir.string();
  s.world.rule_dirs = s.options.rule_dirs;
  s.world.on_save_job = s.options.on_save_job;
  auto snapshot = s.store->load();
  if (!snapshot) return std::move(snapshot).error();
  if (baseline && (!snapshot->leases.empty() || !snapshot->jobs.empty())) {
    // A store written before migration 0005 holds leases and jobs no digest
    // covers: the chain vouches for them as they are now, once, in an event
    // that says so (what was changed before this point cannot be told).
    store::Batch bind;
    bind.leases = snapshot->leases;
    bind.jobs = snapshot->jobs;
    bind.audit.push_back({clock.now(), "system", "store.baseline", "state", "",
                          json{{"leases", bind.leases.size()}, {"jobs", bind.jobs.size()}}.dump(),
                          ""});
    auto bound = s.store->commit(bind);
    if (!bound) return std::move(bound).error();
    if (auto head = s.store->last_signed_head(); witness && head) {
      STRAITS_TRY(witness->append(*head));
    }
  }
  const bool empty = snapshot->entities.empty() && snapshot->users.empty();
  if (empty && s.options.seed && s.options.seed_tokens) {
    // Checked before anything is written: a seed that failed half-way would
    // not be tried again (the store is no longer empty).
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(*s.options.seed_tokens, ec))) {
      return Error(ErrorCode::kAlreadyExists,
                   "seed tokens: " + s.options.seed_tokens->string() +
                       " exists: refusing to overwrite it (remove it, or name another file)");
    }
  }
  if (empty) {
    // First start: the catalog folder's entities, an admin and its token.
    auto catalog = catalog::load_catalog(s.options.catalog_dir);
    if (!catalog) return std::move(catalog).error();
    const Instant now = clock.now();
    store::Batch batch;
    batch.entities = entities_of(*catalog, now);
    store::UserRecord admin{make_id("u", 1), "admin", "admin", "", "", now, std::nullopt};
    const std::string secret = new_token_secret();
    store::TokenRecord token{make_id("t", 1), admin.id, token_hash(secret),
                             "bootstrap",     now,      std::nullopt};
    batch.users.push_back(admin);
    batch.tokens.push_back(token);
    batch.audit.push_back(
        {now, "system", "store.seed", "catalog", "",
         json{{"catalog", s.world.catalog_name}, {"entities", batch.entities.size()}}.dump(), ""});
    batch.audit.push_back({now, "system", "user.create", "users/" + admin.id, "",
                           json{{"id", admin.id}, {"name", "admin"}, {"role", "admin"}}.dump(),
                           ""});
    batch.audit.push_back(
        {now, "system", "token.create", "tokens/" + token.id, "",
         json{{"id", token.id}, {"user", admin.id}, {"label", "bootstrap"}}.dump(), ""});
    // Before the first rule set is stored: named by the set --rules will make.
    if (auto content = s.rules_of_options(); content) {
      const std::string stamp = json{{"ruleset", ruleset_hash(*content)}}.dump();
      for (store::NewAuditEvent& e : batch.audit) e.decision_json = stamp;
    }
    auto committed = s.store->commit(batch);
    if (!committed) return std::move(committed).error();
    if (auto head = s.store->last_signed_head(); witness && head) {
      STRAITS_TRY(witness->append(*head));
    }
    s.bootstrap = secret;
    snapshot = s.store->load();
    if (!snapshot) return std::move(snapshot).error();
  }
  if (Status loaded = s.world.load(std::move(snapshot).value()); !loaded) {
    return std::move(loaded).error().with_context(where);
  }
  STRAITS_TRY(s.settle_rules(witness.get()));
  // A store that does not fit its pools still starts: the scheduler keeps
  // within the pools as they are and moves the jobs off missing nodes.
  for (const std::string& problem : capacity_problems(s.world, clock.now())) {
    s.log({{"level", "warning"}, {"msg", "store inconsistent"}, {"problem", problem}});
  }
  s.writer = std::make_unique<Writer>(s.world, *s.store, clock, [&s] { return s.reload(); });
  if (witness) {
    s.writer->set_witness(std::move(witness), [&s](const std::string& why) {
      s.log({{"level", "error"}, {"msg", "witness not written"}, {"error", why}});
    });
  }
  s.loop = std::make_unique<SchedulingLoop>(s.world, *s.writer, clock, s.metrics, s.options);
  s.context.reset(new Context{s.world, *s.writer, *s.store, clock, s.options, s.metrics,
                              [&s] { s.loop->wake(); }, [&s] { return s.loop->pass(); },
                              [&s] { return s.stopped.load(); }});
  s.whatif = std::make_unique<WhatifRunner>(clock, s.options.whatif_scratch.empty()
                                                       ? std::filesystem::temp_directory_path()
                                                       : s.options.whatif_scratch);
  s.context->whatif = s.whatif.get();
  s.routes = all_routes();
  for (Route& r : s.routes) {
    if (r.pattern == "/metrics") r.authenticated = !s.options.metrics_public;  // issue 15
  }
  s.install_routes();
  HttpServerOptions http;
  http.host = s.options.host;
  http.port = s.options.port;
  http.io_threads = s.options.io_threads;
  http.worker_threads = s.options.threads;
  http.max_body_bytes = s.options.max_body_bytes;
  http.request_timeout =
      std::chrono::milliseconds(s.options.request_timeout.count_microseconds() / 1000);
  http.idle_timeout = std::chrono::milliseconds(s.options.idle_timeout.count_microseconds() / 1000);
  http.max_connections = s.options.max_connections;
  http.rate_limit = s.options.rate_limit;
  http.rate_burst = s.options.rate_burst;
  http.tls_cert = s.options.tls_cert;
  http.tls_key = s.options.tls_key;
  http.on_io_thread = runs_on_io_thread;
  s.http = std::make_unique<HttpServer>(
      std::move(http), [&s](const HttpRequest& request) { return s.serve(request); },
      [&s] { return s.world.changed.generation(); });
  s.world.changed.on_notify([&s] { s.http->changed(); });
  if (empty && s.options.seed) STRAITS_TRY(s.seed(*s.options.seed));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

const std::optional<std::string>& Server::bootstrap_token() const {
  return impl_->bootstrap;
}

const std::string& Server::public_key() const {
  return impl_->signing.key->public_key();
}

bool Server::signing_key_created() const {
  return impl_->signing.created;
}

Status Server::listen() {
  return impl_->http->listen();
}

int Server::port() const {
  return impl_->http->port();
}

void Server::run() {
  Impl& s = *impl_;
  if (s.options.schedule_interval > Duration::seconds(0)) {
    // Often enough to notice a lost agent within a third of its timeout.
    s.loop->start(std::min(s.options.schedule_interval, s.options.agent_lost_after / 3),
                  s.options.min_pass_gap);
    s.loop->wake();  // a first pass at start: the queue may hold jobs
  }
  s.log({{"level", "info"},
         {"msg", "listening"},
         {"url", std::string(s.options.tls_cert.empty() ? "http" : "https") + "://" +
                     s.options.host + ":" + std::to_string(s.http->port())},
         {"store", store::describe(s.options.store)}});
  if (!s.stopped) s.http->run();
  // Stopped: parked long-polls and requests in flight have been answered.
  s.loop->stop();
  s.writer->stop();
  s.log({{"level", "info"}, {"msg", "stopped"}});
}

void Server::stop() {
  impl_->stopped = true;
  impl_->whatif->stop();          // a long simulation is cancelled, not waited for
  impl_->world.changed.notify();  // long-polling agents answer now
  impl_->http->stop();
}

Result<Server::PassSummary> Server::schedule_now() {
  return impl_->loop->pass();
}

Server::Response Server::handle(const std::string& method, const std::string& target,
                                const std::string& authorization, const std::string& body) {
  Impl& s = *impl_;
  const std::size_t mark = target.find('?');
  const std::string path = target.substr(0, mark);
  std::vector<std::string> params;
  const int index = s.find_route(method, path, params);
  if (index < 0) {
    return {404, error_body({404, "not_found", "no route " + method + " " + path, "", nullptr})};
  }
  const Route& route = s.routes[static_cast<std::size_t>(index)];
  const auto arrived = std::chrono::steady_clock::now();
  // Synchronous: a parked request (a long-poll) waits here on the change signal.
  for (;;) {
    std::multimap<std::string, std::string> query;
    if (mark != std::string::npos) query = Impl::parse_query(target.substr(mark + 1), false);
    std::optional<Call::Park> park;
    Reply out = s.answer(route, path, params, std::move(query), body, authorization, arrived, park);
    if (!park) return {out.status, std::move(out.body)};
    s.world.changed.wait(park->generation, park->until);
  }
}

std::vector<std::string> Server::routes() {
  std::vector<std::string> out;
  for (const Route& r : all_routes()) out.push_back(r.method + " " + r.pattern);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace straits::api
