#include "api/internal/world.h"

#include <charconv>
#include <cstdio>

#include "api/internal/auth.h"
#include "api/internal/rulesets.h"
#include "policy/decision_json.h"

namespace straits::api::internal {

const EntityKind* find_entity_kind(std::string_view name) {
  for (const EntityKind& k : kEntityKinds) {
    if (name == k.plural || name == k.kind) return &k;
  }
  return nullptr;
}

std::string agent_key(const std::string& operator_id, const std::string& name) {
  return operator_id + "/" + name;  // an operator id holds no '/'
}

std::string make_id(const char* prefix, std::int64_t number) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%s-%08lld", prefix, static_cast<long long>(number));
  return buffer;
}

std::int64_t id_number(std::string_view id) {
  const auto dash = id.find('-');
  if (dash == std::string_view::npos) return 0;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(id.data() + dash + 1, id.data() + id.size(), n);
  return ec == std::errc() && end == id.data() + id.size() ? n : 0;
}

namespace {

json instant_or_null(const std::optional<Instant>& t) {
  return t ? json(to_iso8601(*t)) : json(nullptr);
}

json parsed_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

// The key of `body` (one object dumped compactly) whose value is at byte
// `at`: the last key that starts before it.
std::string key_at(const std::string& body, const json& object, std::size_t at) {
  std::string best;
  std::size_t best_pos = 0;
  for (const auto& [key, value] : object.items()) {
    const std::size_t pos = body.find(json(key).dump() + ":");
    if (pos != std::string::npos && pos <= at && (best.empty() || pos > best_pos)) {
      best = key;
      best_pos = pos;
    }
  }
  return best;
}

}  // namespace

std::string lease_state(const store::LeaseRecord& l, Instant now) {
  return l.state == "active" && l.end <= now ? "ended" : l.state;
}

std::string lease_json(const store::LeaseRecord& l, Instant now) {
  json j = {{"id", l.id},
            {"org", l.org},
            {"pool", l.pool},
            {"gpus", l.gpus},
            {"start", to_iso8601(l.start)},
            {"end", to_iso8601(l.end)},
            {"price_per_gpu_hour", to_string(Money(l.price_micros, Currency()))},
            {"state", lease_state(l, now)},
            {"created_at", to_iso8601(l.created_at)},
            {"created_by", l.created_by},
            {"terminated_at", instant_or_null(l.terminated_at)},
            {"decision", parsed_or_null(l.decision_json)}};
  return j.dump();
}

Status World::load(store::Snapshot s) {
  for (auto& e : s.entities) entities[e.kind][e.id] = std::move(e);
  for (auto& u : s.users) {
    next_user = std::max(next_user, id_number(u.id) + 1);
    users[u.id] = std::move(u);
  }
  for (auto& t : s.tokens) {
    next_token = std::max(next_token, id_number(t.id) + 1);
    token_by_hash[t.hash] = t.id;
    tokens[t.id] = std::move(t);
  }
  for (auto& l : s.leases) {
    next_lease = std::max(next_lease, id_number(l.id) + 1);
    leases[l.id] = std::move(l);
  }
  for (auto& r : s.rulesets) {
    next_ruleset = std::max(next_ruleset, id_number(r.id) + 1);
    rulesets[r.id] = std::move(r);
  }
  auto built = build_policy(entities);
  if (!built) return std::move(built).error();
  policy = *built;
  std::map<std::string, std::vector<store::JobEvent>> events;
  for (auto& e : s.job_events) events[e.job_id].push_back(std::move(e));
  for (auto& r : s.jobs) {
    next_job = std::max(next_job, id_number(r.id) + 1);
    JobEntry entry;
    entry.spec = json::parse(r.spec_json, nullptr, false);
    if (entry.spec.is_discarded()) {
      return Error(ErrorCode::kInternal, "store: job " + r.id + " has a spec that is not JSON");
    }
    entry.job = job_from_spec(r, entry.spec);
    auto state = parse_job_state(r.state);
    if (!state) {
      return Error(ErrorCode::kInternal, "store: job " + r.id + " has the state \"" + r.state +
                                             "\", which is not a job state");
    }
    entry.state = *state;
    auto run = parse_run(r.run_json);
    if (!run)
      return Error(ErrorCode::kInternal, "store: job " + r.id + ": " + run.error().message());
    entry.run = std::move(run).value();
    json placement = parsed_or_null(r.placement_json);
    if (placement.is_object() && placed_state(entry.state)) {
      entry.pool = placement.value("pool", "");
      for (const json& n : placement.value("nodes", json::array())) {
        entry.nodes.emplace_back(n.value("node", 0), n.value("gpus", 0));
      }
      if (placement.contains("must_leave_by") && placement["must_leave_by"].is_string()) {
        auto t = parse_instant(placement["must_leave_by"].get<std::string>());
        if (t) entry.must_leave_by = *t;
      }
      if (placement.contains("cut_reason") && placement["cut_reason"].is_string()) {
        entry.cut_reason = placement["cut_reason"].get<std::string>();
      }
    }
    entry.events = std::move(events[r.id]);
    entry.record = std::move(r);
    put_job(std::move(entry));
  }
  rank_queue({});  // arrival order until the first pass sorts the queue
  for (auto& a : s.agents) {
    next_agent = std::max(next_agent, id_number(a.id) + 1);
    AgentEntry entry;
    entry.body = parsed_or_null(a.body_json);
    if (!entry.body.is_object()) entry.body = json::object();
    for (const auto& site : entry.body.value("sites", json::array())) {
      if (site.is_string()) entry.sites.insert(site.get<std::string>());
    }
    entry.operator_id = entry.body.value("operator", "");
    // Heard "now": an agent gets a whole lost_after to come back after the
    // server restarts.
    entry.last_seen = std::chrono::steady_clock::now();
    entry.last_seen_at = a.updated_at;
    agent_by_name[agent_key(entry.operator_id, a.name)] = a.id;
    entry.record = std::move(a);
    agents[entry.record.id] = std::move(entry);
  }
  for (auto& c : s.change_requests) {
    next_request = std::max(next_request, id_number(c.id) + 1);
    change_requests[c.id] = std::move(c);
  }
  audit_seq = s.audit_seq;
  return ok();
}

Result<std::shared_ptr<const Policy>> World::build_policy(
    const std::map<std::string, std::map<std::string, store::EntityRecord>, std::less<>>& with,
    const std::map<std::string, store::RulesetRecord>& sets) const {
  catalog::CatalogTexts texts = base_texts;
  // One entity a line, so that a diagnostic's line names its entity.
  std::map<std::string, std::vector<const store::EntityRecord*>> lines;
  for (const EntityKind& k : kEntityKinds) {
    auto it = with.find(k.kind);
    if (it == with.end() || it->second.empty()) continue;
    std::string text = std::string("{\"") + k.plural + "\": [\n";
    auto& order = lines[std::string(catalog_name) + "/" + k.file];
    for (const auto& [id, record] : it->second) {
      text += record.body_json;
      text += ",\n";
      order.push_back(&record);
    }
    text.resize(text.size() - 2);
    text += "\n]}\n";
    texts[k.file] = std::move(text);
  }
  auto loaded = catalog::load_catalog(texts, catalog_name);
  if (!loaded) {
    // Say which entity and field each problem is about, not a line of a
    // file nobody wrote.
    std::vector<Diagnostic> problems;
    for (const Diagnostic& d : loaded.error().diagnostics()) {
      auto entity = lines.find(d.where.file);
      if (entity == lines.end() || d.where.line < 2 ||
          static_cast<std::size_t>(d.where.line - 2) >= entity->second.size()) {
        problems.push_back(d);
        continue;
      }
      const store::EntityRecord& record = *entity->second[d.where.line - 2];
      const EntityKind* kind = find_entity_kind(record.kind);
      json body = json::parse(record.body_json, nullptr, false);
      std::string field =
          body.is_object() && d.where.column > 0
              ? key_at(record.body_json, body, static_cast<std::size_t>(d.where.column - 1))
              : "";
      problems.push_back({SourceLocation{std::string(kind->plural) + "/" + record.id +
                                             (field.empty() ? "" : "#" + field),
                                         0, 0},
                          d.message});
    }
    return Error::invalid_input(loaded.error().message(), std::move(problems));
  }
  auto built = std::make_shared<Policy>();
  built->catalog = std::move(loaded).value();
  std::string fingerprint;
  for (const auto& [file, text] : texts) {
    fingerprint += std::to_string(file.size()) + ":" + file + std::to_string(text.size()) + ":";
    fingerprint += text;
  }
  built->catalog_fingerprint = sha256_hex(fingerprint);
  auto timeline = adopted_timeline(sets);
  if (!timeline) return std::move(timeline).error();
  auto engine = timeline->empty() ? policy::Engine::load(built->catalog, rule_dirs)
                                  : policy::Engine::load_timeline(built->catalog, *timeline);
  if (!engine) return std::move(engine).error().with_context("the rule sets no longer load");
  built->engine.emplace(std::move(engine).value());
  ChipId reference("h100-sxm");
  if (!built->catalog.find_chip(reference) && !built->catalog.chips().empty()) {
    reference = built->catalog.chips().front().id;
  }
  auto throughput = sched::ThroughputModel::make(built->catalog, reference);
  if (!throughput) return std::move(throughput).error();
  built->throughput.emplace(std::move(throughput).value());
  built->generation = policy ? policy->generation + 1 : 1;
  return std::shared_ptr<const Policy>(std::move(built));
}

void World::put_job(JobEntry entry) {
  render(entry);
  jobs_by_org[entry.record.org].insert(entry.record.id);
  if (auto old = jobs.find(entry.record.id);
      old != jobs.end() && old->second.state == JobState::kQueued) {
    std::size_t& n = queued_by_org[old->second.record.org];
    n -= std::min<std::size_t>(n, 1);
  }
  if (entry.state == JobState::kQueued) ++queued_by_org[entry.record.org];
  std::string id = entry.record.id;
  jobs[id] = std::move(entry);
}

void World::rank_queue(const std::vector<std::string>& order) {
  for (auto& [id, e] : jobs) e.queue_position = 0;
  std::size_t rank = 0;
  for (const std::string& id : order) {
    auto it = jobs.find(id);
    if (it != jobs.end() && it->second.state == JobState::kQueued && !it->second.queue_position) {
      it->second.queue_position = ++rank;
    }
  }
  for (auto& [id, e] : jobs) {
    if (e.state == JobState::kQueued && !e.queue_position) e.queue_position = ++rank;
  }
  queue_tail = rank;
}

void World::render(JobEntry& e) const {
  const store::JobRecord& r = e.record;
  json j = {{"id", r.id},
            {"org", r.org},
            {"team", r.team},
            {"state", to_string(e.state)},
            {"spec", e.spec},
            {"submitted_at", to_iso8601(r.submitted_at)},
            {"submitted_by", r.submitted_by},
            {"updated_at", to_iso8601(r.updated_at)}};
  e.rendered = j.dump();
  e.rendered.pop_back();  // the closing brace: to_json() adds "waiting" and it
  // The placement and the decision are JSON this server wrote: spliced in as
  // they are, not parsed and printed again (a pass places hundreds of jobs).
  e.rendered += ",\"placement\":";
  e.rendered += r.placement_json.empty() ? "null" : r.placement_json;
  e.rendered += ",\"decision\":";
  e.rendered += r.decision_json.empty() ? "null" : r.decision_json;
  e.rendered += ",\"run\":";
  e.rendered += r.run_json.empty() ? "null" : r.run_json;
}

std::string AgentEntry::to_json(bool with_liveness) const {
  json j = {{"id", record.id},
            {"name", record.name},
            {"state", record.state},
            {"sites", body.value("sites", json::array())},
            {"backend", body.value("backend", "")},
            {"version", body.value("version", "")},
            {"registered_by", body.value("registered_by", "")},
            {"registered_at", to_iso8601(record.registered_at)},
            {"updated_at", to_iso8601(record.updated_at)}};
  if (with_liveness) j["last_seen"] = to_iso8601(last_seen_at);
  return j.dump();
}

std::uint64_t ChangeSignal::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void ChangeSignal::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
  if (listener_) listener_();
}

void ChangeSignal::wait(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return generation_ != seen; });
}

std::string JobEntry::to_json() const {
  std::string out = rendered;
  out += ",\"waiting\":";
  if (state == JobState::kQueued && !waiting_reason.empty()) {
    out += nlohmann::json{{"reason", waiting_reason},
                          {"rule", waiting_rule.empty() ? nlohmann::json(nullptr)
                                                        : nlohmann::json(waiting_rule)}}
               .dump();
  } else {
    out += "null";
  }
  out += ",\"queue_position\":";
  out += state == JobState::kQueued && queue_position ? std::to_string(queue_position) : "null";
  out += '}';
  return out;
}

sched::Job job_from_spec(const store::JobRecord& record, const json& spec) {
  sched::Job job;
  job.id = JobId(record.id);
  job.org = OrgId(record.org);
  job.team = record.team;
  job.gpus = spec.value("gpus", 1);
  for (const auto& c : spec.value("eligible_chips", json::array())) {
    job.eligible_chips.emplace_back(c.get<std::string>());
  }
  job.work = spec.value("work", 0.0);
  job.model = spec.value("model", "");
  job.priority = spec.value("priority", 0);
  if (spec.contains("checkpoint_interval")) {
    auto d = parse_duration(spec["checkpoint_interval"].get<std::string>());
    if (d) job.checkpoint_interval = *d;
  }
  job.checkpoint_gb = spec.value("checkpoint_gb", 0.0);
  for (const auto& d : spec.value("datasets", json::array())) {
    job.datasets.emplace_back(d.get<std::string>());
  }
  job.purpose = spec.value("purpose", "training");
  job.submit = record.submitted_at;
  if (spec.contains("deadline")) {
    auto t = parse_instant(spec["deadline"].get<std::string>());
    if (t) job.deadline = *t;
  }
  if (spec.contains("preferences")) {
    const json& p = spec["preferences"];
    for (const auto& s : p.value("site_order", json::array())) {
      job.preferences.site_order.emplace_back(s.get<std::string>());
    }
    for (const auto& s : p.value("allow_sites", json::array())) {
      job.preferences.allow_sites.emplace_back(s.get<std::string>());
    }
    for (const auto& s : p.value("deny_sites", json::array())) {
      job.preferences.deny_sites.emplace_back(s.get<std::string>());
    }
    if (p.contains("max_price_per_gpu_hour")) {
      auto m = parse_money(p["max_price_per_gpu_hour"].get<std::string>());
      if (m) job.preferences.max_price_per_gpu_hour = *m;
    }
  }
  return job;
}

}  // namespace straits::api::internal
