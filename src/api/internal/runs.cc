#include "api/internal/runs.h"

#include "core/strings.h"

namespace straits::api::internal {

bool placed_state(const std::string& s) {
  return s == "assigned" || s == "running" || s == "checkpointing";
}

bool final_state(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

bool run_active(const JobEntry& e) {
  return e.run.is_object() && e.run.value("active", false);
}

std::int64_t run_attempt(const JobEntry& e) {
  return e.run.is_object() ? e.run.value("attempt", std::int64_t{0}) : 0;
}

std::string run_agent(const JobEntry& e) {
  if (!e.run.is_object()) return "";
  const json& agent = e.run["agent"];
  return agent.is_string() ? agent.get<std::string>() : "";
}

void add_job_event(JobEntry& e, store::Batch& batch, Instant at, std::string kind,
                   std::string message, std::string data) {
  e.events.push_back({e.record.id, static_cast<std::int64_t>(e.events.size()) + 1, at,
                      std::move(kind), std::move(message), std::move(data)});
  batch.job_events.push_back(e.events.back());
}

void save_job(World& world, JobEntry& e, store::Batch& batch, Instant now) {
  e.record.run_json = e.run.is_null() ? "" : e.run.dump();
  e.record.updated_at = now;
  batch.jobs.push_back(e.record);
  world.render(e);
}

void begin_attempt(JobEntry& e) {
  if (!e.run.is_object()) e.run = {{"requeues", 0}, {"checkpoint", nullptr}, {"result", nullptr}};
  e.run["attempt"] = run_attempt(e) + 1;
  e.run["agent"] = nullptr;
  e.run["handle"] = nullptr;
  e.run["started_at"] = nullptr;
  e.run["active"] = false;
  e.run["stop"] = "";
  e.run["stop_reason"] = "";
  e.acked.clear();
}

void back_to_queue(JobEntry& e) {
  e.record.state = "queued";
  e.record.placement_json.clear();
  e.pool.reset();
  e.nodes.clear();
  e.must_leave_by = Instant::max();
  e.cut_reason.clear();
  if (e.run.is_object()) {
    e.run["active"] = false;
    e.run["stop"] = "";
    e.run["stop_reason"] = "";
  }
  e.acked.clear();
}

std::string requeue_or_fail(World& world, JobEntry& e, store::Batch& batch, Instant now,
                            const ServerOptions& options, const std::string& why) {
  const std::string before = e.record.state;
  const std::int64_t requeues = e.run.is_object() ? e.run.value("requeues", std::int64_t{0}) : 0;
  if (requeues >= options.max_requeues) {
    e.record.state = "failed";
    e.pool.reset();
    e.nodes.clear();
    if (e.run.is_object()) e.run["active"] = false;
    add_job_event(
        e, batch, now, "failed",
        why + "; not requeued again: requeued " + std::to_string(requeues) + " times already");
  } else {
    back_to_queue(e);
    e.run["requeues"] = requeues + 1;
    const json& checkpoint = e.run["checkpoint"];
    add_job_event(e, batch, now, "requeued",
                  why + "; requeued to resume from " +
                      (checkpoint.is_object() ? "checkpoint " + checkpoint.value("path", "")
                                              : std::string("the start (no checkpoint yet)")));
  }
  batch.audit.push_back({now, "system", "job.requeue", "jobs/" + e.record.id,
                         json{{"state", before}}.dump(),
                         json{{"state", e.record.state}, {"reason", why}}.dump(), ""});
  save_job(world, e, batch, now);
  return e.record.state;
}

std::string shell_command(const json& spec) {
  auto it = spec.find("command");
  // A string is a shell command as written; a list is argv, every element
  // quoted, however many there are (["a; b"] runs the program "a; b").
  if (it != spec.end() && it->is_string()) return it->get<std::string>();
  if (it == spec.end() || !it->is_array() || it->empty()) return "";
  std::string out;
  for (const json& arg : *it) {
    out += (out.empty() ? "" : " ") + shell_quote(arg.get<std::string>());
  }
  return out;
}

std::size_t mark_lost_agents(World& world, store::Batch& batch, Instant now,
                             const ServerOptions& options) {
  const auto steady_now = std::chrono::steady_clock::now();
  const auto lost_after = std::chrono::microseconds(options.agent_lost_after.count_microseconds());
  std::vector<std::string> lost;
  {
    std::lock_guard lock(world.agent_mutex);
    for (auto& [id, a] : world.agents) {
      if (a.record.state == "active" && steady_now - a.last_seen > lost_after) lost.push_back(id);
    }
    for (auto it = world.start_claims.begin(); it != world.start_claims.end();) {
      if (std::find(lost.begin(), lost.end(), it->second) != lost.end()) {
        it = world.start_claims.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::string& id : lost) {
    AgentEntry& a = world.agents.at(id);
    a.record.state = "lost";
    a.record.updated_at = now;
    batch.agents.push_back(a.record);
    batch.audit.push_back(
        {now, "system", "agent.lost", "agents/" + id, json{{"state", "active"}}.dump(),
         json{{"state", "lost"}, {"last_seen", to_iso8601(a.last_seen_at)}}.dump(), ""});
    const std::string why = "agent " + a.record.name + " (" + id + ") lost: not heard from since " +
                            to_iso8601(a.last_seen_at);
    for (auto& [job_id, e] : world.jobs) {
      if (run_agent(e) != id) continue;
      if (placed_state(e.record.state)) {
        requeue_or_fail(world, e, batch, now, options, why);
      } else if (run_active(e)) {
        // Ended already (cancelled): its run ended with its agent.
        e.run["active"] = false;
        save_job(world, e, batch, now);
      }
    }
  }
  return lost.size();
}

}  // namespace straits::api::internal
