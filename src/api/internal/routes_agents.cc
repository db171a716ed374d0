// Site agents (docs/agents.md): register, heartbeat, take assignments by
// long-poll, report what their runs did. An agent acts with its own token,
// of role agent, bound to sites (auth.h): it registers for those sites only
// and acts for the agents it registered only. An admin's token or the
// operator-admin's of every site it serves still works (a deployment that
// has not made agent tokens yet).
// Assignments are not stored: they follow from the jobs' states and runs,
// so the same assignment always has the same id, however often it is
// handed out.
#include <algorithm>
#include <chrono>
#include <regex>

#include "api/internal/auth.h"
#include "api/internal/routes.h"
#include "api/internal/runs.h"

namespace straits::api::internal {
namespace {

using SteadyClock = std::chrono::steady_clock;

// An agent token manages the agent it registered, while that agent's sites
// are still all among the token's (an admin may have moved it since).
bool manages_agent(const Principal& who, const AgentEntry& a, const World& world) {
  if (who.is("agent")) {
    if (a.body.value("registered_by", "") != who.user_id) return false;
    const std::set<std::string> mine = agent_sites(world, who);
    return std::all_of(a.sites.begin(), a.sites.end(),
                       [&](const std::string& site) { return mine.count(site) > 0; });
  }
  return who.is("admin") ||
         (who.is("operator-admin") && !a.operator_id.empty() && who.operator_id == a.operator_id);
}

// The agent, if the caller may see it: 404 otherwise (as for any other
// tenant's thing). The auditor and compliance read every agent.
const AgentEntry& find_agent(const World& world, const Principal& who, const std::string& id,
                             bool reading) {
  auto it = world.agents.find(id);
  if (it == world.agents.end() ||
      !(manages_agent(who, it->second, world) || (reading && reads_all(who)))) {
    not_found("agent '" + id + "'");
  }
  return it->second;
}

void heard_from(const World& world, const AgentEntry& a, Instant now) {
  std::lock_guard lock(world.agent_mutex);
  a.last_seen = SteadyClock::now();
  a.last_seen_at = now;
}

json agent_reply(const World& world, const AgentEntry& a, const ServerOptions& options) {
  std::string text;
  {
    std::lock_guard lock(world.agent_mutex);
    text = a.to_json();
  }
  json j = json::parse(text);
  j["heartbeat_interval_seconds"] =
      options.agent_heartbeat_interval.count_microseconds() / 1'000'000;
  j["lost_after_seconds"] = options.agent_lost_after.count_microseconds() / 1'000'000;
  return j;
}

std::int64_t seconds_until(Instant when, Instant now) {
  const std::int64_t us = (when - now).count_microseconds();
  return us <= 0 ? 0 : us / 1'000'000;
}

std::string site_of(const World& world, const JobEntry& e) {
  if (!e.pool) return "";
  const catalog::Pool* pool = world.policy->catalog.find_pool(PoolId(*e.pool));
  return pool ? pool->site.str() : "";
}

std::string assignment_id(const std::string& job, std::int64_t attempt, const char* kind) {
  return job + "/" + std::to_string(attempt) + "/" + kind;
}

// What the agent has to do now. World locked shared, agent_mutex held.
std::vector<json> outstanding(const World& world, const AgentEntry& agent, Instant now) {
  std::vector<json> out;
  const Policy& p = *world.policy;
  for (const auto& [id, e] : world.jobs) {
    if (!e.run) continue;
    const std::int64_t attempt = run_attempt(e);
    const std::string bound = run_agent(e);
    const JobState state = e.state;
    if (state == JobState::kAssigned && bound.empty() && !e.run->active) {
      if (!agent.sites.count(site_of(world, e))) continue;
      auto claim = world.start_claims.find({id, attempt});
      if (claim != world.start_claims.end() && claim->second != agent.record.id) continue;
      const catalog::Pool* pool = p.catalog.find_pool(PoolId(*e.pool));
      std::int32_t gpus = 0;
      for (const auto& [node, n] : e.nodes) gpus += n;
      json a = {{"id", assignment_id(id, attempt, "start")},
                {"kind", "start"},
                {"job", id},
                {"attempt", attempt},
                {"org", e.record.org},  // the agent may run each org's jobs as its own user
                {"site", pool->site.str()},
                {"pool", pool->id.str()},
                {"chip", pool->chip.str()},
                {"gpus", gpus},
                {"nodes", static_cast<std::int64_t>(e.nodes.size())},
                {"gpus_per_node", pool->gpus_per_node},
                {"command", shell_command(e.spec)}};
      a["resume_from"] = e.run->checkpoint ? json(e.run->checkpoint->path) : json(nullptr);
      a["time_limit_seconds"] = nullptr;
      if (e.spec.contains("time_limit")) {
        if (auto limit = parse_duration(e.spec["time_limit"].get<std::string>())) {
          a["time_limit_seconds"] = limit->count_microseconds() / 1'000'000;
        }
      }
      if (e.must_leave_by == Instant::max()) {
        a["must_leave_by"] = nullptr;
        a["must_leave_in_seconds"] = nullptr;
      } else {
        a["must_leave_by"] = to_iso8601(e.must_leave_by);
        a["must_leave_in_seconds"] = seconds_until(e.must_leave_by, now);
      }
      a["checkpoint_interval_seconds"] = e.job.checkpoint_interval.count_microseconds() / 1'000'000;
      out.push_back(std::move(a));
      continue;
    }
    if (bound != agent.record.id || !run_active(e)) continue;
    const std::string& stop = e.run->stop;
    if (!stop.empty()) {
      const char* kind = stop == "cancel" ? "cancel" : "stop";
      std::string aid = assignment_id(id, attempt, kind);
      if (e.acked.count(aid)) continue;
      out.push_back({{"id", aid},
                     {"kind", kind},
                     {"job", id},
                     {"attempt", attempt},
                     {"reason", e.run->stop_reason}});
    } else if (state == JobState::kCheckpointing) {
      std::string aid = assignment_id(id, attempt, "checkpoint");
      if (e.acked.count(aid)) continue;
      json a = {{"id", aid},          {"kind", "checkpoint"}, {"job", id},
                {"attempt", attempt}, {"then", "stop"},       {"reason", e.cut_reason}};
      a["deadline"] =
          e.must_leave_by == Instant::max() ? json(nullptr) : json(to_iso8601(e.must_leave_by));
      a["deadline_in_seconds"] = e.must_leave_by == Instant::max()
                                     ? json(nullptr)
                                     : json(seconds_until(e.must_leave_by, now));
      out.push_back(std::move(a));
    }
  }
  // Runs the agent has that the server does not expect there.
  for (const auto& [job, attempt] : agent.stray_runs) {
    std::string aid = assignment_id(job, attempt, "stop");
    auto it = world.jobs.find(job);
    if (it != world.jobs.end() && it->second.acked.count(aid)) continue;
    out.push_back({{"id", aid},
                   {"kind", "stop"},
                   {"job", job},
                   {"attempt", attempt},
                   {"reason", "the server does not expect this run here"}});
  }
  return out;
}

void check_name(const std::string& name) {
  static const std::regex pattern("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  if (!std::regex_match(name, pattern)) {
    bad_field("name",
              "'name' must be letters, digits, '.', '_' or '-', starting with a letter or digit");
  }
}

Reply register_agent(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "operator-admin", "agent"}, "register agents");
  check_query(call, {});
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"name", "sites", "backend", "version"}, ctx.options.max_items);
  const std::string name = *f.text("name", true, 128);
  check_name(name);
  auto sites = f.texts("sites");
  if (!sites || sites->empty()) bad_field("sites", "'sites' must list at least one site");
  const std::string backend = *f.text("backend", true, 32);
  if (backend != "local" && backend != "slurm") {
    bad_field("backend", "'backend' must be \"local\" or \"slurm\", not \"" + backend + "\"");
  }
  const std::string version = f.text("version", false, 64).value_or("");
  Reply r = ctx.writer.run([&](World& world, store::Batch& batch) {
    const Policy& p = *world.policy;
    std::string operator_id;
    json site_list = json::array();
    std::set<std::string> site_set;
    const std::set<std::string> bound = agent_sites(world, call.who);
    for (std::size_t i = 0; i < sites->size(); ++i) {
      const std::string& site = (*sites)[i];
      const std::string field = "sites[" + std::to_string(i) + "]";
      if (!p.catalog.find_site(SiteId(site))) {
        fail(422, "unknown_reference", "no such site '" + site + "'", field);
      }
      const std::string op = operator_of_site(p, site);
      if (call.who.is("agent")) {
        if (!bound.count(site)) {
          fail(403, "permission_denied",
               "this agent token is for other sites; site '" + site + "' is not one of them",
               field);
        }
      } else if (!manages_operator(call.who, op)) {
        fail(403, "permission_denied",
             "an operator-admin registers agents for its operator's sites only; site '" + site +
                 "' is operator " + op + "'s",
             field);
      }
      operator_id = i == 0 || operator_id == op ? op : "";
      if (site_set.insert(site).second) site_list.push_back(site);
    }
    AgentEntry* agent = nullptr;
    bool created = false;
    // Names are unique per operator: another operator's agent of this name
    // is not this one, and its existence is not answered (a 409 would).
    const std::string key = agent_key(operator_id, name);
    auto named = world.agent_by_name.find(key);
    if (named != world.agent_by_name.end()) {
      agent = &world.agents.at(named->second);
      // An agent token takes over an agent of its sites that an admin or
      // operator-admin registered (a deployment moving to agent tokens),
      // never one that another agent token registered.
      auto by = world.users.find(agent->body.value("registered_by", ""));
      const bool takeover = call.who.is("agent") && by != world.users.end() &&
                            by->second.role != "agent" &&
                            std::all_of(agent->sites.begin(), agent->sites.end(),
                                        [&](const std::string& s) { return bound.count(s) > 0; });
      if (!takeover && !manages_agent(call.who, *agent, world)) {
        // Only the operator's own (or an admin's) agent is named here.
        fail(409, "conflict", "agent name '" + name + "' is taken at this operator", "name");
      }
    } else {
      const std::string id = make_id("ag", world.next_agent++);
      AgentEntry fresh;
      fresh.record.id = id;
      fresh.record.name = name;
      fresh.record.registered_at = call.now;
      world.agent_by_name[key] = id;
      agent = &(world.agents[id] = std::move(fresh));
      created = true;
    }
    if (!created && agent->operator_id != operator_id) {
      // Its sites moved to another operator: it is found under the new key.
      world.agent_by_name.erase(agent_key(agent->operator_id, name));
      world.agent_by_name[key] = agent->record.id;
    }
    const std::string before = created ? "" : agent->record.body_json;
    agent->body = {{"sites", site_list},
                   {"backend", backend},
                   {"version", version},
                   {"operator", operator_id},
                   {"registered_by", call.who.user_id}};
    agent->sites = site_set;
    agent->operator_id = operator_id;
    agent->record.state = "active";
    agent->record.body_json = agent->body.dump();
    agent->record.updated_at = call.now;
    {
      std::lock_guard lock(world.agent_mutex);
      agent->last_seen = SteadyClock::now();
      agent->last_seen_at = call.now;
      // A restarted agent is handed everything again.
      agent->delivered.clear();
      agent->stray_runs.clear();
    }
    batch.agents.push_back(agent->record);
    batch.audit.push_back({call.now, call.who.user_id, "agent.register",
                           "agents/" + agent->record.id, before, agent->record.body_json, ""});
    return reply(created ? 201 : 200, agent_reply(world, *agent, ctx.options));
  });
  return r;
}

Reply list_agents(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "operator-admin", "auditor", "compliance"}, "list agents");
  check_query(call, {"limit", "after", "state"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  auto state = query_text(call, "state");
  std::shared_lock lock(ctx.world.mutex);
  std::lock_guard agents_lock(ctx.world.agent_mutex);
  std::vector<std::string> items;
  std::string last;
  bool more = false;
  for (auto it = ctx.world.agents.upper_bound(after); it != ctx.world.agents.end(); ++it) {
    const AgentEntry& a = it->second;
    if (!(manages_agent(call.who, a, ctx.world) || reads_all(call.who))) continue;
    if (state && a.record.state != *state) continue;
    if (items.size() == limit) {
      more = true;
      break;
    }
    items.push_back(a.to_json());
    last = a.record.id;
  }
  return {200, page_json(items, more, last)};
}

Reply get_agent(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "operator-admin", "auditor", "compliance", "agent"},
               "read agents");
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  const AgentEntry& a = find_agent(ctx.world, call.who, call.params.at("id"), true);
  return reply(200, agent_reply(ctx.world, a, ctx.options));
}

Reply heartbeat(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "operator-admin", "agent"}, "act as an agent");
  check_query(call, {});
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"runs"}, ctx.options.max_items);
  std::vector<std::pair<std::string, std::int64_t>> runs;
  if (f.has("runs")) {
    const json& list = body["runs"];
    if (!list.is_array()) bad_field("runs", "'runs' must be an array");
    if (list.size() > ctx.options.max_items) {
      fail(413, "too_many_items", "'runs' lists more than " + std::to_string(ctx.options.max_items),
           "runs");
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string at = "runs[" + std::to_string(i) + "]";
      if (!list[i].is_object()) bad_field(at, "'" + at + "' must be an object");
      Fields run(list[i], at + ".", {"job", "attempt", "state"}, ctx.options.max_items);
      runs.emplace_back(*run.text("job", true, 64), *run.integer("attempt", true, 1, INT32_MAX));
      (void)run.text("state", false, 32);
    }
  }
  const std::string id = call.params.at("id");
  bool revive = false;
  json answer;
  {
    std::shared_lock lock(ctx.world.mutex);
    const AgentEntry& a = find_agent(ctx.world, call.who, id, false);
    std::set<std::pair<std::string, std::int64_t>> strays;
    for (const auto& [job, attempt] : runs) {
      auto it = ctx.world.jobs.find(job);
      const bool expected = it != ctx.world.jobs.end() && run_attempt(it->second) == attempt &&
                            run_agent(it->second) == id && run_active(it->second);
      // A start just handed out is not reported as started yet: not a stray.
      const bool starting = it != ctx.world.jobs.end() && run_attempt(it->second) == attempt &&
                            it->second.state == JobState::kAssigned &&
                            run_agent(it->second).empty();
      if (!expected && !starting) strays.insert({job, attempt});
    }
    heard_from(ctx.world, a, call.now);
    {
      std::lock_guard agents_lock(ctx.world.agent_mutex);
      if (strays != a.stray_runs) {
        a.stray_runs = std::move(strays);
        ctx.world.changed.notify();
      }
    }
    revive = a.record.state != "active";
    if (!revive) answer = agent_reply(ctx.world, a, ctx.options);
  }
  if (!revive) return reply(200, answer);
  // Heard from again after it was marked lost: active again (its jobs were
  // requeued; any run it still has gets a stop assignment as a stray).
  return ctx.writer.run([&](World& world, store::Batch& batch) {
    auto it = world.agents.find(id);
    if (it == world.agents.end()) not_found("agent '" + id + "'");
    AgentEntry& a = it->second;
    if (a.record.state != "active") {
      a.record.state = "active";
      a.record.updated_at = call.now;
      batch.agents.push_back(a.record);
      batch.audit.push_back({call.now, call.who.user_id, "agent.revive", "agents/" + id,
                             json{{"state", "lost"}}.dump(), json{{"state", "active"}}.dump(), ""});
    }
    return reply(200, agent_reply(world, a, ctx.options));
  });
}

Reply assignments(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "operator-admin", "agent"}, "act as an agent");
  check_query(call, {"wait"});
  const std::int64_t wait = query_integer(call, "wait", 0, 60).value_or(0);
  const std::string id = call.params.at("id");
  // The wait counts from the request's arrival: the handler runs again (parked, below)
  // until there is something new or the wait is over.
  const auto arrived =
      call.arrived == SteadyClock::time_point{} ? SteadyClock::now() : call.arrived;
  const auto deadline = arrived + std::chrono::seconds(wait);
  const std::uint64_t generation = ctx.world.changed.generation();
  {
    std::shared_lock lock(ctx.world.mutex);
    const AgentEntry& a = find_agent(ctx.world, call.who, id, false);
    const Instant now = ctx.clock.now();
    heard_from(ctx.world, a, now);
    std::lock_guard agents_lock(ctx.world.agent_mutex);
    std::vector<json> list = outstanding(ctx.world, a, now);
    bool fresh = false;
    for (const json& item : list) fresh |= !a.delivered.count(item["id"].get<std::string>());
    if (fresh || SteadyClock::now() >= deadline || ctx.stopping()) {
      json items = json::array();
      for (json& item : list) {
        a.delivered.insert(item["id"].get<std::string>());
        if (item["kind"] == "start") {
          ctx.world
              .start_claims[{item["job"].get<std::string>(), item["attempt"].get<std::int64_t>()}] =
              id;
        }
        items.push_back(std::move(item));
      }
      return reply(200, json{{"assignments", items}});
    }
  }
  // Nothing new yet: the dispatcher parks the request, holding no thread, and runs this
  // again when anything is committed, and every second (the clock moves
  // must_leave_in_seconds; the server may be stopping).
  call.park =
      Call::Park{std::min(deadline, SteadyClock::now() + std::chrono::seconds(1)), generation};
  return {};
}

// One report, read strictly (400 names the field) before anything applies.
struct Report {
  std::string job, event, assignment, handle, path, note, text, outcome, detail, log_tail;
  std::int64_t attempt = 0;
  std::optional<std::int64_t> exit_code, signal;
};

Report read_report(const json& item, const std::string& at, std::size_t max_items) {
  if (!item.is_object()) bad_field(at, "'" + at + "' must be an object");
  Fields f(item, at + ".",
           {"job", "attempt", "event", "assignment", "handle", "path", "note", "text", "outcome",
            "exit_code", "signal", "detail", "log_tail", "at"},
           max_items);
  Report r;
  r.job = *f.text("job", true, 64);
  r.attempt = *f.integer("attempt", true, 1, INT32_MAX);
  r.event = *f.text("event", true, 32);
  static const std::set<std::string> events = {"ack", "started", "checkpoint", "log", "exited"};
  if (!events.count(r.event)) {
    bad_field(at + ".event", "'" + at +
                                 ".event' must be one of ack, started, checkpoint, log, "
                                 "exited, not \"" +
                                 r.event + "\"");
  }
  r.assignment = f.text("assignment", r.event == "ack", 256).value_or("");
  r.handle = f.text("handle", false, 256).value_or("");
  // What runs printed or named comes as it is: a job's output holds control
  // characters (progress bars, colours), and refusing it would lose the report.
  r.path = f.text("path", r.event == "checkpoint", 4096, TextKind::kOutput).value_or("");
  r.note = f.text("note", false, 1024, TextKind::kOutput).value_or("");
  r.text = f.text("text", r.event == "log", 65536, TextKind::kOutput).value_or("");
  r.detail = f.text("detail", false, 4096, TextKind::kOutput).value_or("");
  r.log_tail = f.text("log_tail", false, 65536, TextKind::kOutput).value_or("");
  if (r.event == "exited") {
    r.outcome = *f.text("outcome", true, 32);
    static const std::set<std::string> outcomes = {"succeeded", "failed",       "cancelled",
                                                   "timed_out", "node_failure", "lost"};
    if (!outcomes.count(r.outcome)) {
      bad_field(at + ".outcome", "'" + at +
                                     ".outcome' must be one of succeeded, failed, cancelled, "
                                     "timed_out, node_failure, lost, not \"" +
                                     r.outcome + "\"");
    }
  }
  if (f.has("exit_code") && !item["exit_code"].is_null()) {
    r.exit_code = f.integer("exit_code", false, -1, 255);
  }
  if (f.has("signal") && !item["signal"].is_null()) r.signal = f.integer("signal", false, 0, 128);
  if (f.has("at")) (void)f.instant("at");
  return r;
}

// Whether the agent may hear of the job: its run is the agent's, it is
// placed at one of the agent's sites, or its start was handed to the agent
// (cancelled since). Other jobs, another operator's above all, are answered
// as jobs that do not exist.
bool concerns(const World& world, const AgentEntry& agent, const JobEntry& e) {
  if (run_agent(e) == agent.record.id || agent.sites.count(site_of(world, e))) return true;
  std::lock_guard lock(world.agent_mutex);
  auto claim = world.start_claims.find({e.record.id, run_attempt(e)});
  return claim != world.start_claims.end() && claim->second == agent.record.id;
}

// What a report does to its job (writer thread). {applied, why not}.
// A run started (writer thread). {applied, why not}.
std::pair<bool, std::string> apply_started(World& world, const AgentEntry& agent, const Report& r,
                                           JobEntry& e, store::Batch& batch, Instant now) {
  const std::string& id = agent.record.id;
  const std::string bound = run_agent(e);
  const std::int64_t attempt = r.attempt;
  if (!bound.empty()) {
    return {false, bound == id ? "already started" : "started at agent " + bound};
  }
  if (!agent.sites.count(site_of(world, e)) && !final_state(e.state)) {
    return {false, "the job is not placed at a site of this agent"};
  }
  RunState& run = *e.run;  // the attempt matched: a run exists
  run.agent = id;
  run.handle = r.handle;
  run.started_at = to_iso8601(now);
  run.active = true;
  const JobState before = e.state;
  if (e.state == JobState::kAssigned) e.state = JobState::kRunning;
  // Cancelled while its start was on the way: stop the run.
  if (final_state(e.state) && run.stop.empty()) {
    run.stop = "cancel";
    run.stop_reason = "the job ended before its run started";
  }
  add_job_event(
      e, batch, now, "started",
      "attempt " + std::to_string(attempt) + " started by agent " + agent.record.name +
          (r.handle.empty() ? "" : " (" + agent.body.value("backend", "") + " " + r.handle + ")"),
      json{{"agent", id}, {"handle", r.handle}, {"attempt", attempt}}.dump());
  batch.audit.push_back(job_audit(now, "agent:" + id, "job.start", e.record.id, before,
                                  json{{"state", to_string(e.state)}, {"attempt", attempt}}));
  save_job(world, e, batch, now);
  return {true, ""};
}

// A run ended: the job moves on, is queued again, or ends (writer thread).
std::pair<bool, std::string> apply_exited(World& world, const AgentEntry& agent, const Report& r,
                                          JobEntry& e, store::Batch& batch, Instant now,
                                          const ServerOptions& options, bool& moved) {
  const std::string& id = agent.record.id;
  const std::int64_t attempt = r.attempt;
  if (!run_active(e)) return {false, "already ended"};
  RunState& run = *e.run;
  run.active = false;
  run.result =
      RunResult{attempt, r.outcome, r.exit_code, r.signal, r.detail, r.log_tail, to_iso8601(now)};
  const json result = result_json(*run.result);
  const JobState before = e.state;
  const std::string how = r.outcome +
                          (r.exit_code ? ", exit code " + std::to_string(*r.exit_code) : "") +
                          (r.signal ? ", signal " + std::to_string(*r.signal) : "") +
                          (r.detail.empty() ? "" : ": " + r.detail);
  if (final_state(e.state)) {
    add_job_event(e, batch, now, "stopped",
                  "the run of attempt " + std::to_string(attempt) + " ended (" + how + ")",
                  result.dump());
    save_job(world, e, batch, now);
    return {true, ""};
  }
  if (e.state == JobState::kCheckpointing || run.stop == "stop") {
    const std::string pool = e.pool.value_or("");
    const std::string reason = e.cut_reason.empty() ? run.stop_reason : e.cut_reason;
    back_to_queue(e);
    const json checkpoint = run.checkpoint ? checkpoint_json(*run.checkpoint) : json(nullptr);
    add_job_event(e, batch, now, "moved", "left pool " + pool + " (" + how + "): " + reason,
                  json{{"pool", pool}, {"reason", reason}, {"checkpoint", checkpoint}}.dump());
    batch.audit.push_back(job_audit(now, "agent:" + id, "job.move", e.record.id, before,
                                    json{{"state", "queued"}, {"reason", reason}}));
    save_job(world, e, batch, now);
    moved = true;
    return {true, ""};
  }
  if (r.outcome == "succeeded" || r.outcome == "failed" || r.outcome == "timed_out") {
    e.state = r.outcome == "succeeded" ? JobState::kSucceeded : JobState::kFailed;
    e.pool.reset();
    e.nodes.clear();
    add_job_event(e, batch, now, to_string(e.state),
                  "attempt " + std::to_string(attempt) + " " + how, result.dump());
    batch.audit.push_back(job_audit(now, "agent:" + id, "job.end", e.record.id, before,
                                    json{{"state", to_string(e.state)},
                                         {"outcome", r.outcome},
                                         {"exit_code", result["exit_code"]}}));
    save_job(world, e, batch, now);
    moved = true;
    return {true, ""};
  }
  // node failure, lost, or stopped without being asked: not the job's fault.
  requeue_or_fail(
      world, e, batch, now, options,
      "attempt " + std::to_string(attempt) + " at agent " + agent.record.name + " ended: " + how);
  moved = true;
  return {true, ""};
}

std::pair<bool, std::string> apply(World& world, const AgentEntry& agent, const Report& r,
                                   store::Batch& batch, Instant now, const ServerOptions& options,
                                   bool& moved) {
  auto it = world.jobs.find(r.job);
  if (it == world.jobs.end() || !concerns(world, agent, it->second)) {
    return {false, "no such job '" + r.job + "'"};
  }
  JobEntry& e = it->second;
  const std::string& id = agent.record.id;
  const std::string bound = run_agent(e);
  const std::int64_t attempt = run_attempt(e);
  if (r.attempt != attempt) {
    return {false, "attempt " + std::to_string(r.attempt) + " is not the job's current one (" +
                       std::to_string(attempt) + ")"};
  }
  if (r.event == "started") return apply_started(world, agent, r, e, batch, now);
  if (bound != id) {
    return {false, bound.empty() ? "the run has not started" : "the run is agent " + bound + "'s"};
  }
  if (r.event == "ack") {
    e.acked.insert(r.assignment);
    return {true, ""};
  }
  if (r.event == "log") {
    add_job_event(e, batch, now, "log", r.text, json{{"attempt", attempt}}.dump());
    return {true, ""};
  }
  if (r.event == "checkpoint") {
    std::optional<Checkpoint>& known = e.run->checkpoint;
    if (known && known->path == r.path) return {false, "already known"};
    known = Checkpoint{r.path, r.note, attempt, to_iso8601(now)};
    add_job_event(e, batch, now, "checkpointed",
                  "checkpoint " + r.path + (r.note.empty() ? "" : " (" + r.note + ")"),
                  checkpoint_json(*known).dump());
    save_job(world, e, batch, now);
    return {true, ""};
  }
  return apply_exited(world, agent, r, e, batch, now, options, moved);
}

Reply reports(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "operator-admin", "agent"}, "act as an agent");
  check_query(call, {});
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"reports"}, ctx.options.max_items);
  if (!f.has("reports") || !body["reports"].is_array()) {
    bad_field("reports", "'reports' must be an array of reports");
  }
  const json& list = body["reports"];
  if (list.size() > ctx.options.max_items) {
    fail(413, "too_many_items",
         "'reports' lists more than " + std::to_string(ctx.options.max_items), "reports");
  }
  std::vector<Report> parsed;
  for (std::size_t i = 0; i < list.size(); ++i) {
    parsed.push_back(
        read_report(list[i], "reports[" + std::to_string(i) + "]", ctx.options.max_items));
  }
  const std::string id = call.params.at("id");
  bool moved = false;
  Reply r = ctx.writer.run([&](World& world, store::Batch& batch) {
    const AgentEntry& agent = find_agent(world, call.who, id, false);
    heard_from(world, agent, call.now);
    json results = json::array();
    for (const Report& report : parsed) {
      auto [applied, why] = apply(world, agent, report, batch, call.now, ctx.options, moved);
      json one = {{"applied", applied}};
      if (!applied) one["why"] = why;
      results.push_back(one);
    }
    return reply(200, json{{"results", results}});
  });
  if (moved) ctx.wake_scheduler();
  return r;
}

}  // namespace

void add_agent_routes(std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/agents", register_agent});
  routes.push_back({"GET", "/v1/agents", list_agents});
  routes.push_back({"GET", "/v1/agents/{id}", get_agent});
  routes.push_back({"POST", "/v1/agents/{id}/heartbeat", heartbeat});
  routes.push_back({"GET", "/v1/agents/{id}/assignments", assignments});
  routes.push_back({"POST", "/v1/agents/{id}/reports", reports});
}

}  // namespace straits::api::internal
