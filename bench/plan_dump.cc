// Dumps, as text, the plans the scheduler makes on the server-scale bench
// fleet (server_fleet.h: 10,000 queued jobs on 1,000 pools) under every queue
// policy and the options that change what a pass does: a refactor of the
// scheduler must leave this output byte-identical (issue 16).
//
// For each configuration: a cold pass with reasons, its starts applied, a
// warm pass 30 s later, its starts applied, a pass six hours later (the jobs
// that would have ended by then gone, leases starting in 3 days not yet), and plan_subset over
// the first 50 queued jobs. Every start, wait and preemption is printed.
//
// Usage: straits_plan_dump [POLICY...]   (default: every policy)
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "server_fleet.h"

using namespace straits;
using namespace straits::sched;

namespace {

void dump(std::FILE* out, const ClusterState& state, const Plan& plan) {
  for (const Start& s : plan.starts) {
    const PendingJob& p = state.pending[s.pending_index];
    std::fprintf(out, "start %s pool=%s", p.job->id.str().c_str(),
                 state.catalog->pools()[s.allocation.pool].id.str().c_str());
    for (auto [node, gpus] : s.allocation.nodes) std::fprintf(out, " %d:%d", node, gpus);
    std::fprintf(out, " end=%s leave=%s cut=\"%s\" rule=%s\n", to_iso8601(s.expected_end).c_str(),
                 s.must_leave_by == Instant::max() ? "-" : to_iso8601(s.must_leave_by).c_str(),
                 s.cut_reason.c_str(), s.cut_rule.str().c_str());
  }
  for (const Waiting& w : plan.waiting) {
    std::fprintf(out, "wait %s never=%d rule=%s reason=\"%s\"\n",
                 state.pending[w.pending_index].job->id.str().c_str(), w.never ? 1 : 0,
                 w.rule.str().c_str(), w.reason.c_str());
  }
  for (const Preempt& p : plan.preemptions) {
    std::fprintf(out, "preempt %s for=%s reason=\"%s\"\n",
                 state.running()[p.running_index].job->id.str().c_str(),
                 state.pending[p.for_pending].job->id.str().c_str(), p.reason.c_str());
  }
}

// Running jobs whose GPUs are free by `now` leave (as if they ended).
void finish(ClusterState& state, Instant now) {
  for (std::size_t i = state.running().size(); i-- > 0;) {
    const RunningJob& r = state.running()[i];
    if (r.frees_at() > now) continue;
    state.release(r.org_slot, r.allocation);
    state.remove_running(i);
  }
}

struct Config {
  std::string name;
  SchedulerOptions options;
  bool varied = false;  // the jobs with priorities and deadlines (varied_jobs)
};

// The fleet's jobs with priorities (0 to 2) and, one in four, a deadline:
// what the priority, preemption and cost paths read.
std::vector<Job> varied_jobs(const std::vector<Job>& jobs, Instant now) {
  std::vector<Job> out = jobs;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].priority = static_cast<int>((i * 7) % 3);
    if (i % 4 == 1) out[i].deadline = now + Duration::hours(static_cast<std::int64_t>(4 + i % 40));
  }
  // Late arrivals of a higher priority than any queued: queued before the
  // second pass, where they may preempt.
  for (std::size_t i = 0; i < 400; ++i) {
    Job late = jobs[i * 17];
    late.id = JobId("late-" + std::to_string(i));
    late.priority = 5;
    late.submit = now + Duration::seconds(10);
    out.push_back(late);
  }
  return out;
}

std::vector<Config> configs(const std::vector<QueuePolicy>& policies) {
  std::vector<Config> out;
  for (QueuePolicy policy : policies) {
    Config all{std::string(to_string(policy)) + " all", {}};
    all.options.policy = policy;
    all.options.max_jobs_per_pass = 0;
    out.push_back(all);
    Config window{std::string(to_string(policy)) + " window=1000 shared", {}};
    window.options.policy = policy;
    window.options.max_jobs_per_pass = 1000;
    window.options.share_window_by_org = true;
    out.push_back(window);
    Config limits{std::string(to_string(policy)) + " quotas shares budgets preemption", {}};
    limits.options.policy = policy;
    limits.options.max_jobs_per_pass = 2000;
    limits.options.preemption = true;
    for (int o = 0; o < 20; o += 3) {
      limits.options.quotas[OrgId("org-" + std::to_string(o))] = 64 * (o + 1);
      limits.options.shares[OrgId("org-" + std::to_string(o))] = 1 + o % 4;
      limits.options.budgets[{OrgId("org-" + std::to_string(o)), "team-1"}] =
          Money::from_units(2000.0 * (o + 1), Currency());
    }
    limits.varied = true;
    out.push_back(limits);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<QueuePolicy> policies;
  for (int i = 1; i < argc; ++i) {
    auto policy = parse_queue_policy(argv[i]);
    if (!policy) {
      std::fprintf(stderr, "unknown policy: %s\n", argv[i]);
      return 2;
    }
    policies.push_back(*policy);
  }
  if (policies.empty()) {
    for (const std::string& name : queue_policy_names())
      policies.push_back(*parse_queue_policy(name));
  }
  bench::ServerFleet& f = bench::server_fleet();
  for (const Config& config : configs(policies)) {
    std::printf("== %s\n", config.name.c_str());
    auto cluster = std::make_unique<ClusterState>(f.state);
    const std::vector<Job> jobs = config.varied ? varied_jobs(f.jobs, f.now) : std::vector<Job>();
    if (config.varied) {
      cluster->pending.clear();
      for (std::size_t i = 0; i < f.jobs.size(); ++i) {
        cluster->pending.push_back(PendingJob{&jobs[i], jobs[i].work});
      }
    }
    Scheduler scheduler(f.catalog, *f.engine, *f.throughput, config.options);
    Instant now = f.now;
    const Duration steps[] = {Duration::seconds(30), Duration::hours(6), Duration::seconds(0)};
    for (int pass = 0; pass < 3; ++pass) {
      finish(*cluster, now);
      if (config.varied && pass == 1) {
        for (std::size_t i = f.jobs.size(); i < jobs.size(); ++i) {
          cluster->pending.push_back(PendingJob{&jobs[i], jobs[i].work});
        }
      }
      std::printf("-- pass %d at %s: %zu queued, %zu running\n", pass + 1, to_iso8601(now).c_str(),
                  cluster->pending.size(), cluster->running().size());
      Plan plan = scheduler.plan(*cluster, now, /*explain=*/true);
      dump(stdout, *cluster, plan);
      bench::apply_starts(*cluster, plan, now);
      now = now + steps[pass];
    }
    std::vector<std::size_t> first;
    for (std::size_t i = 0; i < cluster->pending.size() && i < 50; ++i) first.push_back(i);
    std::printf("-- subset of %zu at %s\n", first.size(), to_iso8601(now).c_str());
    dump(stdout, *cluster, scheduler.plan_subset(*cluster, now, first, /*explain=*/true));
  }
  return 0;
}
