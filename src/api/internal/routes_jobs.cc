// Jobs: submit, get, list, cancel, events, logs. A job waits in the queue
// until the scheduling loop places it on its org's allowed capacity; the
// decision of each placement is kept with it.
#include <algorithm>
#include <cctype>
#include <cstdint>

#include "api/internal/auth.h"
#include "api/internal/routes.h"
#include "api/internal/runs.h"
#include "policy/decision_json.h"

namespace straits::api::internal {
namespace {

// What one job spec may hold. Specs are kept, shown and handed to agents
// for ever: a 20 MB command would be stored, served back on every list and
// sent to the agent on every attempt. A command (a shell string, or argv)
// holds at most 64 KiB in all and argv at most 4096 arguments (Linux takes
// 128 KiB an argument and 2 MiB in all); the whole spec at most 256 KiB.
constexpr std::size_t kMaxCommandBytes = 64 * 1024;
constexpr std::size_t kMaxArguments = 4096;
constexpr std::size_t kMaxSpecBytes = 256 * 1024;

// Reads and checks a submitted spec; returns it normalised (what is shown).
json read_spec(const Call& call, const World& world, std::size_t max_items, std::string& org,
               std::string& team) {
  json body = Fields::parse_object(call.body);
  Fields f(body, "",
           {"name", "org", "team", "gpus", "eligible_chips", "work", "model", "priority",
            "checkpoint_interval", "checkpoint_gb", "datasets", "purpose", "deadline",
            "preferences", "command", "time_limit"},
           max_items);
  org = f.text("org", !call.who.tenant(), 128).value_or(call.who.org);
  if (call.who.tenant() && org != call.who.org) {
    fail(403, "permission_denied", "a " + call.who.role + " submits jobs of its own org only",
         "org");
  }
  const Policy& p = *world.policy;
  if (!p.catalog.find_org(OrgId(org)))
    fail(422, "unknown_reference", "no such org '" + org + "'", "org");
  team = f.text("team", false, 128).value_or("default");
  json spec = {{"team", team}};
  if (auto name = f.text("name", false, 256)) spec["name"] = *name;
  spec["gpus"] = *f.integer("gpus", true, 1, 65'536);
  spec["work"] = *f.number("work", true, 1e-6, 1e12);
  spec["eligible_chips"] = json::array();
  if (auto chips = f.texts("eligible_chips")) {
    for (std::size_t i = 0; i < chips->size(); ++i) {
      if (!p.catalog.find_chip(ChipId((*chips)[i]))) {
        fail(422, "unknown_reference", "no such chip '" + (*chips)[i] + "'",
             "eligible_chips[" + std::to_string(i) + "]");
      }
      spec["eligible_chips"].push_back((*chips)[i]);
    }
  }
  if (auto model = f.text("model", false, 128)) spec["model"] = *model;
  spec["priority"] = f.integer("priority", false, -1000, 1000).value_or(0);
  if (auto interval = f.duration("checkpoint_interval")) {
    if (*interval < Duration::seconds(0)) {
      bad_field("checkpoint_interval", "'checkpoint_interval' must not be negative");
    }
    spec["checkpoint_interval"] = to_iso8601(*interval);
  } else {
    spec["checkpoint_interval"] = "PT2H";
  }
  spec["checkpoint_gb"] = f.number("checkpoint_gb", false, 0, 1e6).value_or(0.0);
  spec["datasets"] = json::array();
  if (auto datasets = f.texts("datasets")) {
    for (std::size_t i = 0; i < datasets->size(); ++i) {
      const catalog::Dataset* d = p.catalog.find_dataset(DatasetId((*datasets)[i]));
      // Another org's dataset is as unknown as a missing one.
      if (!d || !(sees_org(call.who, p, d->owner.str()))) {
        fail(422, "unknown_reference", "no such dataset '" + (*datasets)[i] + "'",
             "datasets[" + std::to_string(i) + "]");
      }
      spec["datasets"].push_back((*datasets)[i]);
    }
  }
  spec["purpose"] = f.text("purpose", false, 64).value_or("training");
  if (auto deadline = f.instant("deadline")) spec["deadline"] = to_iso8601(*deadline);
  if (auto prefs = f.object(
          "preferences", {"site_order", "allow_sites", "deny_sites", "max_price_per_gpu_hour"})) {
    json pj = json::object();
    for (const char* key : {"site_order", "allow_sites", "deny_sites"}) {
      if (auto sites = prefs->texts(key)) {
        for (std::size_t i = 0; i < sites->size(); ++i) {
          if (!p.catalog.find_site(SiteId((*sites)[i]))) {
            fail(422, "unknown_reference", "no such site '" + (*sites)[i] + "'",
                 prefs->path(key) + "[" + std::to_string(i) + "]");
          }
        }
        pj[key] = *sites;
      }
    }
    if (auto price = prefs->money("max_price_per_gpu_hour")) {
      pj["max_price_per_gpu_hour"] = to_string(*price);
    }
    spec["preferences"] = pj;
  }
  if (f.has("command")) {
    const json& command = f.raw()["command"];
    if (command.is_string()) {
      // A string stays one: it is shell; a list never is, even of one element.
      spec["command"] = *f.text("command", false, kMaxCommandBytes, TextKind::kProse);
    } else if (auto args = f.texts("command", kMaxCommandBytes, TextKind::kProse, kMaxArguments)) {
      if (args->empty()) bad_field("command", "'command' must not be empty");
      std::size_t bytes = 0;
      for (const std::string& arg : *args) bytes += arg.size();
      if (bytes > kMaxCommandBytes) {
        bad_field("command", "'command' holds " + std::to_string(bytes) + " bytes, more than the " +
                                 std::to_string(kMaxCommandBytes) + " allowed");
      }
      spec["command"] = *args;
    }
  }
  if (auto limit = f.duration("time_limit")) spec["time_limit"] = to_iso8601(*limit);
  if (const std::size_t bytes = spec.dump().size(); bytes > kMaxSpecBytes) {
    fail(400, "invalid_argument",
         "the job spec takes " + std::to_string(bytes) + " bytes, more than the " +
             std::to_string(kMaxSpecBytes) + " allowed");
  }
  return spec;
}

// 429 when the org has as many jobs queued as one org may
// (ServerOptions::max_queued_per_org): one tenant's flood would otherwise
// grow the queue, every pass and every list without bound.
void check_queue_cap(const World& world, const std::string& org, std::size_t cap) {
  auto queued = world.queued_by_org.find(org);
  if (queued == world.queued_by_org.end() || queued->second < cap) return;
  fail(429, "resource_exhausted",
       "org '" + org + "' has " + std::to_string(queued->second) +
           " jobs queued, the most one org may queue (max_queued_per_org " + std::to_string(cap) +
           "): wait for some to start, or cancel some",
       "org");
}

store::JobEvent event(const store::JobRecord& job, std::int64_t seq, Instant at, std::string kind,
                      std::string message, std::string data = "") {
  return {job.id, seq, at, std::move(kind), std::move(message), std::move(data)};
}

Reply submit(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin", "engineer"}, "submit jobs");
  check_query(call, {});
  std::string org, team;
  json spec;
  {
    std::shared_lock lock(ctx.world.mutex);
    spec = read_spec(call, ctx.world, ctx.options.max_items, org, team);
    // Checked here too, so that a flood past the cap costs the writer nothing.
    check_queue_cap(ctx.world, org, ctx.options.max_queued_per_org);
  }
  Reply r = ctx.writer.run([&](World& world, store::Batch& batch) {
    if (!world.policy->catalog.find_org(OrgId(org))) {
      fail(422, "unknown_reference", "no such org '" + org + "'", "org");
    }
    check_queue_cap(world, org, ctx.options.max_queued_per_org);
    JobEntry entry;
    store::JobRecord& rec = entry.record;
    rec.id = make_id("j", world.next_job++);
    rec.org = org;
    rec.team = team;
    entry.state = JobState::kQueued;
    rec.state = to_string(entry.state);
    rec.spec_json = spec.dump();
    rec.submitted_at = rec.updated_at = call.now;
    rec.submitted_by = call.who.user_id;
    entry.spec = spec;
    entry.job = job_from_spec(rec, spec);
    entry.events.push_back(event(rec, 1, call.now, "submitted", "submitted by " + call.who.name));
    batch.jobs.push_back(rec);
    batch.job_events.push_back(entry.events.back());
    batch.audit.push_back(
        {call.now, call.who.user_id, "job.submit", "jobs/" + rec.id, "", rec.spec_json, ""});
    const std::string id = rec.id;
    entry.queue_position = ++world.queue_tail;  // behind every queued job until the next pass
    world.put_job(std::move(entry));
    return Reply{201, world.jobs.at(id).to_json()};
  });
  if (r.status == 201) ctx.wake_scheduler();
  return r;
}

const JobEntry& find_job(const World& world, const Principal& who, const std::string& id) {
  auto it = world.jobs.find(id);
  if (it == world.jobs.end() || !sees_org(who, *world.policy, it->second.record.org)) {
    not_found("job '" + id + "'");
  }
  return it->second;
}

// Why a queued job waits, pool by pool: the decisions that block it.
json blocking(const World& world, const JobEntry& e, Instant now) {
  const Policy& p = *world.policy;
  json pools = json::array();
  for (const catalog::Pool& pool : p.catalog.pools()) {
    const auto& chips = e.job.eligible_chips;
    if (!chips.empty() && std::find(chips.begin(), chips.end(), pool.chip) == chips.end()) continue;
    if (pool.gpus_per_node * pool.nodes < e.job.gpus) continue;
    json entry = {{"pool", pool.id.str()}};
    bool blocked = false;
    if (!pool.owner || *pool.owner != e.job.org) {
      auto lease = p.engine->decide(
          policy::LeaseRequest{e.job.org, pool.id, e.job.gpus, std::nullopt, std::nullopt}, now);
      if (lease && lease->outcome != policy::Outcome::kAllow) {
        entry["lease"] = policy::decision_json(*lease);
        blocked = true;
      }
    }
    policy::JobSpec spec{e.job.gpus, 0, e.job.purpose, e.job.datasets};
    auto run = p.engine->decide(policy::RunRequest{e.job.org, pool.id, spec}, now);
    if (run && run->outcome != policy::Outcome::kAllow) {
      entry["run"] = policy::decision_json(*run);
      blocked = true;
    }
    if (blocked) pools.push_back(entry);
  }
  return pools;
}

Reply get(Context& ctx, Call& call) {
  check_query(call, {"explain"});
  auto explain = query_text(call, "explain");
  if (explain && *explain != "true" && *explain != "false") {
    bad_field("explain", "'explain' must be true or false");
  }
  std::shared_lock lock(ctx.world.mutex);
  const JobEntry& e = find_job(ctx.world, call.who, call.params.at("id"));
  if (explain != "true") return {200, e.to_json()};
  json j = json::parse(e.to_json());
  j["blocking"] = e.state == JobState::kQueued ? blocking(ctx.world, e, call.now) : json::array();
  return reply(200, j);
}

// What GET /v1/jobs filters on, beyond the org.
struct JobFilter {
  std::optional<std::string> state, team, site, pool, chip, q;
};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The site and chip of a placed job (its pool's), "" otherwise.
const catalog::Pool* pool_of(const Policy& p, const JobEntry& e) {
  return e.pool ? p.catalog.find_pool(PoolId(*e.pool)) : nullptr;
}

bool matches(const Policy& p, const JobEntry& e, const JobFilter& f) {
  if ((f.state && to_string(e.state) != *f.state) || (f.team && e.record.team != *f.team)) {
    return false;
  }
  if (f.pool && e.pool.value_or("") != *f.pool) return false;
  const catalog::Pool* pool = (f.site || f.chip) ? pool_of(p, e) : nullptr;
  if (f.site && (!pool || pool->site.str() != *f.site)) return false;
  if (f.chip) {
    // Placed: its pool's chip; queued: a chip it may run on (none named: any).
    const auto& chips = e.job.eligible_chips;
    const bool may = pool ? pool->chip.str() == *f.chip
                          : chips.empty() || std::find(chips.begin(), chips.end(),
                                                       ChipId(*f.chip)) != chips.end();
    if (!may) return false;
  }
  if (f.q) {
    if (lower(e.record.id).find(*f.q) == std::string::npos &&
        lower(e.spec.value("name", "")).find(*f.q) == std::string::npos) {
      return false;
    }
  }
  return true;
}

constexpr const char* kJobSorts[] = {"submitted", "id",   "name",     "org",
                                     "state",     "gpus", "position", "site"};

// Orders two jobs by `key`, ties by id. Jobs not in the queue sort after
// every queued one by position.
bool sorts_before(const Policy& p, const std::string& key, const JobEntry& a, const JobEntry& b) {
  auto by = [&](const auto& x, const auto& y) {
    return x != y ? x < y : a.record.id < b.record.id;
  };
  if (key == "submitted") return by(a.record.submitted_at, b.record.submitted_at);
  if (key == "name") return by(a.spec.value("name", ""), b.spec.value("name", ""));
  if (key == "org") return by(a.record.org, b.record.org);
  if (key == "state") return by(to_string(a.state), to_string(b.state));
  if (key == "gpus") return by(a.job.gpus, b.job.gpus);
  if (key == "position") {
    auto rank = [](const JobEntry& e) {
      return e.state == JobState::kQueued && e.queue_position ? e.queue_position : SIZE_MAX;
    };
    return by(rank(a), rank(b));
  }
  if (key == "site") {
    auto site = [&](const JobEntry& e) {
      const catalog::Pool* pool = pool_of(p, e);
      return pool ? pool->site.str() : std::string();
    };
    return by(site(a), site(b));
  }
  return a.record.id < b.record.id;
}

// Calls `visit` on each job the caller may list (of `org` when given), by id.
template <typename Visit>
void each_visible_job(const World& w, const Principal& who, const std::optional<std::string>& org,
                      Visit visit) {
  if (who.tenant() || org) {
    // One org's jobs: its index, not every job.
    const std::string& only = who.tenant() ? who.org : *org;
    if ((org && *org != only) || !sees_org(who, *w.policy, only)) return;
    auto ids = w.jobs_by_org.find(only);
    if (ids == w.jobs_by_org.end()) return;
    for (const std::string& id : ids->second) visit(w.jobs.at(id));
  } else if (reads_all(who)) {
    for (const auto& [id, e] : w.jobs) visit(e);
  }
}

Reply list(Context& ctx, Call& call) {
  check_query(call, {"limit", "after", "org", "state", "team", "site", "pool", "chip", "q", "sort",
                     "order", "offset"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  auto org = query_text(call, "org");
  JobFilter f{query_text(call, "state"), query_text(call, "team"), query_text(call, "site"),
              query_text(call, "pool"),  query_text(call, "chip"), query_text(call, "q")};
  if (f.q && f.q->size() > 256) bad_field("q", "'q' holds at most 256 characters");
  if (f.q) f.q = lower(*f.q);
  auto sort = query_text(call, "sort");
  if (sort && std::find(std::begin(kJobSorts), std::end(kJobSorts), *sort) == std::end(kJobSorts)) {
    bad_field("sort",
              "'sort' must be one of submitted, id, name, org, state, gpus, position, site");
  }
  const std::string order = query_text(call, "order").value_or("asc");
  if (order != "asc" && order != "desc") bad_field("order", "'order' must be asc or desc");
  auto offset = query_integer(call, "offset", 0, 1'000'000'000);
  if ((sort || offset) && !after.empty()) {
    bad_field("after", "'after' pages by id; with 'sort' or 'offset' page by 'offset'");
  }
  std::shared_lock lock(ctx.world.mutex);
  const World& w = ctx.world;
  const Policy& p = *w.policy;
  std::vector<const JobEntry*> found;
  std::size_t total = 0;
  std::string last;
  bool more = false;
  const bool paged = sort || offset || order == "desc";
  // Every match is counted (total); by id, the page is the first `limit`
  // after the cursor; sorted, every match is kept and sorted.
  each_visible_job(w, call.who, org, [&](const JobEntry& e) {
    if (!matches(p, e, f)) return;
    ++total;
    if (!paged && e.record.id <= after) return;
    if (paged || found.size() < limit) {
      found.push_back(&e);
      last = e.record.id;
    } else {
      more = true;
    }
  });
  std::string out = "{\"items\":[";
  std::size_t from = 0, to = found.size();
  if (paged) {
    const std::string key = sort.value_or("id");
    std::stable_sort(found.begin(), found.end(), [&](const JobEntry* a, const JobEntry* b) {
      return order == "desc" ? sorts_before(p, key, *b, *a) : sorts_before(p, key, *a, *b);
    });
    from = std::min<std::size_t>(found.size(), static_cast<std::size_t>(offset.value_or(0)));
    to = std::min(found.size(), from + limit);
  }
  for (std::size_t i = from; i < to; ++i) {
    if (i != from) out += ',';
    out += found[i]->to_json();
  }
  out += "],\"next\":";
  out += !paged && more ? json(last).dump() : "null";
  out += ",\"total\":" + std::to_string(total);
  out += ",\"offset\":" + (paged ? std::to_string(from) : std::string("null"));
  out += '}';
  return {200, out};
}

Reply cancel(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin", "engineer"}, "cancel jobs");
  check_query(call, {});
  no_body(call);
  const std::string id = call.params.at("id");
  Reply r = ctx.writer.run([&, id](World& world, store::Batch& batch) {
    const JobEntry& found = find_job(world, call.who, id);
    if (final_state(found.state)) {
      fail(409, "conflict", "job '" + id + "' has already ended (" + to_string(found.state) + ")");
    }
    JobEntry e = found;
    const JobState before = e.state;
    e.state = JobState::kCancelled;
    e.pool.reset();
    e.nodes.clear();
    // A run still going is stopped by its agent (a cancel assignment).
    if (run_active(e)) {
      e.run->stop = "cancel";
      e.run->stop_reason = "cancelled by " + call.who.name;
    }
    add_job_event(e, batch, call.now, "cancelled",
                  "cancelled by " + call.who.name + " (was " + to_string(before) + ")");
    batch.audit.push_back(job_audit(call.now, call.who.user_id, "job.cancel", id, before,
                                    json{{"state", "cancelled"}}));
    save_job(world, e, batch, call.now, /*with_run=*/run_active(e));
    world.put_job(std::move(e));
    return Reply{200, world.jobs.at(id).to_json()};
  });
  if (r.status == 200) ctx.wake_scheduler();
  return r;
}

Reply events(Context& ctx, Call& call) {
  check_query(call, {"after"});
  const std::int64_t after = query_integer(call, "after", 0, INT64_MAX).value_or(0);
  std::shared_lock lock(ctx.world.mutex);
  const JobEntry& e = find_job(ctx.world, call.who, call.params.at("id"));
  json items = json::array();
  for (const store::JobEvent& ev : e.events) {
    if (ev.seq <= after) continue;
    json j = {
        {"seq", ev.seq}, {"at", to_iso8601(ev.at)}, {"kind", ev.kind}, {"message", ev.message}};
    j["data"] = ev.data_json.empty() ? json(nullptr) : json::parse(ev.data_json, nullptr, false);
    items.push_back(j);
  }
  return reply(200, json{{"items", items}, {"next", nullptr}});
}

// What agents reported of the job's output: the events of kind "log", oldest
// first, line by line.
Reply logs(Context& ctx, Call& call) {
  check_query(call, {"tail"});
  const auto tail = static_cast<std::size_t>(query_integer(call, "tail", 1, 100000).value_or(1000));
  std::shared_lock lock(ctx.world.mutex);
  const JobEntry& e = find_job(ctx.world, call.who, call.params.at("id"));
  // An agent reports output in chunks (docs/agents.md): shown line by line.
  std::vector<std::string> lines;
  for (const store::JobEvent& ev : e.events) {
    if (ev.kind != "log") continue;
    std::size_t from = 0;
    while (from < ev.message.size()) {
      std::size_t end = ev.message.find('\n', from);
      if (end == std::string::npos) end = ev.message.size();
      lines.push_back(ev.message.substr(from, end - from));
      from = end + 1;
    }
  }
  if (lines.size() > tail) lines.erase(lines.begin(), lines.end() - static_cast<long>(tail));
  return reply(200, json{{"job", e.record.id}, {"state", to_string(e.state)}, {"lines", lines}});
}

}  // namespace

void add_job_routes(std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/jobs", submit});
  routes.push_back({"GET", "/v1/jobs", list});
  routes.push_back({"GET", "/v1/jobs/{id}", get});
  routes.push_back({"POST", "/v1/jobs/{id}/cancel", cancel});
  routes.push_back({"GET", "/v1/jobs/{id}/events", events});
  routes.push_back({"GET", "/v1/jobs/{id}/logs", logs});
}

}  // namespace straits::api::internal
