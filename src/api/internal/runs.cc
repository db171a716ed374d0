#include "api/internal/runs.h"

#include "core/strings.h"

namespace straits::api::internal {

bool run_active(const JobEntry& e) {
  return e.run && e.run->active;
}

std::int64_t run_attempt(const JobEntry& e) {
  return e.run ? e.run->attempt : 0;
}

std::string run_agent(const JobEntry& e) {
  return e.run ? e.run->agent.value_or("") : "";
}

void add_job_event(JobEntry& e, store::Batch& batch, Instant at, std::string kind,
                   std::string message, std::string data) {
  e.events.push_back({e.record.id, static_cast<std::int64_t>(e.events.size()) + 1, at,
                      std::move(kind), std::move(message), std::move(data)});
  batch.job_events.push_back(e.events.back());
}

store::NewAuditEvent job_audit(Instant at, std::string actor, std::string action,
                               const std::string& job, JobState before, const json& after) {
  return {at,
          std::move(actor),
          std::move(action),
          "jobs/" + job,
          json{{"state", to_string(before)}}.dump(),
          after.dump(),
          ""};
}

void save_job(World& world, JobEntry& e, store::Batch& batch, Instant now, bool with_run) {
  if (world.on_save_job) world.on_save_job(e.record.id);
  e.record.state = to_string(e.state);
  if (with_run) e.record.run_json = run_json(e.run);
  e.record.updated_at = now;
  batch.jobs.push_back(e.record);
  world.render(e);
}

void begin_attempt(JobEntry& e) {
  RunState next;
  if (e.run) {  // what outlives an attempt
    next.attempt = e.run->attempt;
    next.checkpoint = e.run->checkpoint;
    next.requeues = e.run->requeues;
    next.result = e.run->result;
  }
  ++next.attempt;
  e.run = std::move(next);
  e.acked.clear();
}

void back_to_queue(JobEntry& e) {
  e.state = JobState::kQueued;
  e.record.placement_json.clear();
  e.pool.reset();
  e.nodes.clear();
  e.must_leave_by = Instant::max();
  e.cut_reason.clear();
  if (e.run) {
    e.run->active = false;
    e.run->stop.clear();
    e.run->stop_reason.clear();
  }
  e.acked.clear();
}

JobState requeue_or_fail(World& world, JobEntry& e, store::Batch& batch, Instant now,
                         const ServerOptions& options, const std::string& why) {
  const JobState before = e.state;
  const std::int64_t requeues = e.run ? e.run->requeues : 0;
  if (requeues >= options.max_requeues) {
    e.state = JobState::kFailed;
    e.pool.reset();
    e.nodes.clear();
    if (e.run) e.run->active = false;
    add_job_event(
        e, batch, now, "failed",
        why + "; not requeued again: requeued " + std::to_string(requeues) + " times already");
  } else {
    back_to_queue(e);
    if (!e.run) e.run.emplace();
    e.run->requeues = requeues + 1;
    const std::optional<Checkpoint>& checkpoint = e.run->checkpoint;
    add_job_event(e, batch, now, "requeued",
                  why + "; requeued to resume from " +
                      (checkpoint ? "checkpoint " + checkpoint->path
                                  : std::string("the start (no checkpoint yet)")));
  }
  batch.audit.push_back(job_audit(now, "system", "job.requeue", e.record.id, before,
                                  json{{"state", to_string(e.state)}, {"reason", why}}));
  save_job(world, e, batch, now);
  return e.state;
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
      if (placed_state(e.state)) {
        requeue_or_fail(world, e, batch, now, options, why);
      } else if (run_active(e)) {
        // Ended already (cancelled): its run ended with its agent.
        e.run->active = false;
        save_job(world, e, batch, now);
      }
    }
  }
  return lost.size();
}

}  // namespace straits::api::internal
