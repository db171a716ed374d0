// Preemption (the post-filter of a pass): under a policy that can preempt
// (priority-fair-share) with SchedulerOptions::preemption, a job no pool
// took may stop running jobs of its own org with a lower priority.
#include "sched/internal/scheduler_impl.h"

namespace straits::sched {

// Frees room for `job` on one of `preempt_pools` by preempting running
// jobs of its org with a lower priority (lowest first, then the latest
// started), fewest needed; none if jobs already leaving will free enough.
// Returns the positions chosen (empty: none, or none needed); where room
// is coming, the pool is held for the job (`holds`).
const std::vector<std::uint32_t>& Scheduler::Impl::preempt_for(const ClusterState& state,
                                                               const Job& job, std::uint32_t who) {
  auto hold = [&](std::uint32_t p) {
    if (!holds[p].held || holds[p].priority < job.priority) {
      holds[p] = Hold{true, who, job.priority};
      touched.push_back(p);
    }
  };
  victims.clear();
  if (chosen.size() < state.running().size()) chosen.resize(state.running().size(), 0);
  for (std::uint32_t p : preempt_pools) {
    const Room room = room_of(state, who, p);
    const NodeView nodes = view(state, p);
    preempt_free.assign(nodes.free, nodes.free + nodes.nodes);
    NodeView after = nodes;
    after.free = preempt_free.data();
    std::int32_t in_use = room.in_use;
    auto release_one = [&](const RunningJob& r) {
      release(r, who, preempt_free, after.free_total, in_use);
    };
    auto fits = [&] {
      std::int32_t left =
          room.owned ? after.free_total : std::min(after.free_total, room.entitled - in_use);
      return left >= job.gpus && fit(after, job.gpus).has_value();
    };
    // Jobs already on their way out first: if they make room, wait for them.
    std::vector<std::uint32_t> candidates;
    for (std::uint32_t at : by_end(state, p)) {
      const RunningJob& r = state.running()[at];
      if (r.leaving || chosen[at]) {
        release_one(r);
      } else if (r.job->org == job.org && r.job->priority < job.priority) {
        candidates.push_back(at);
      }
    }
    if (fits()) {  // room is coming: nothing more to stop
      hold(p);
      return victims;
    }
    std::sort(candidates.begin(), candidates.end(), [&](std::uint32_t a, std::uint32_t b) {
      const RunningJob& x = state.running()[a];
      const RunningJob& y = state.running()[b];
      if (x.job->priority != y.job->priority) return x.job->priority < y.job->priority;
      if (x.started != y.started) return x.started > y.started;
      return x.job->id < y.job->id;
    });
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      release_one(state.running()[candidates[k]]);
      if (fits()) {
        victims.assign(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k + 1));
        for (std::uint32_t at : victims) {
          chosen[at] = 1;
          chosen_list.push_back(at);
        }
        hold(p);
        return victims;
      }
    }
  }
  return victims;
}

void Scheduler::Impl::preempt(Pass& pass, Trial& t, std::string& reason) {
  const Job& job = *t.pending->job;
  const auto& stopped = preempt_for(pass.state, job, t.org_index);
  for (std::uint32_t at : stopped) {
    pass.plan.preemptions.push_back(
        Preempt{at, t.index,
                "preempted by " + job.id.str() + " (priority " + std::to_string(job.priority) +
                    " over " + std::to_string(pass.state.running()[at].job->priority) + ")"});
  }
  if (pass.explain && !stopped.empty()) {
    reason +=
        "; preempting " + std::to_string(stopped.size()) + " lower-priority job(s) of its org";
  }
}

}  // namespace straits::sched
