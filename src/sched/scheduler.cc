#include "sched/scheduler.h"

#include "sched/internal/scheduler_impl.h"

namespace straits::sched {

// Whether `pending`, started now on one of the pools its class's Hopeless
// finding lacks GPUs on, would be cut (a lease end, a rule) before it ends
// and could not checkpoint in time.
bool Scheduler::Impl::cut_short(const Scheduler& scheduler, const PendingJob& pending,
                                JobClass& klass, Instant now) const {
  auto& h = klass.hopeless;
  if (!h.earliest_cut) {
    Instant earliest = Instant::max();
    for (const auto& s : h.short_of) earliest = std::min(earliest, cut_at(klass, s.pool));
    h.earliest_cut = earliest;
  }
  if (*h.earliest_cut == Instant::max()) return false;
  if (pending.scheduler_longest_run < Duration()) {
    Duration longest;
    for (std::uint32_t p : klass.pools()) {
      longest = std::max(longest, scheduler.run_time(pending, klass.speed(p)));
    }
    pending.scheduler_longest_run = longest;
  }
  if (now + pending.scheduler_longest_run <= *h.earliest_cut) return false;
  for (const auto& s : h.short_of) {
    const Instant cut = cut_at(klass, s.pool);
    if (cut == Instant::max() || now + pending.scheduler_longest_run <= cut) continue;
    if (now + scheduler.run_time(pending, klass.speed(s.pool)) <= cut) continue;
    if (!scheduler.can_checkpoint_before(*pending.job, now, cut)) return true;
  }
  return false;
}

Duration Scheduler::run_time(const PendingJob& pending, double speed) const {
  const Job& job = *pending.job;
  Duration run_time =
      wall_time(job, ThroughputModel::run_time_at(speed, job.gpus, pending.remaining_work));
  if (pending.remaining_work < job.work) run_time += options_.restart_overhead;
  return run_time;
}

bool Scheduler::can_checkpoint_before(const Job& job, Instant now, Instant cut) const {
  return job.checkpoint_interval > Duration() &&
         cut - now > checkpoint_time(job) + options_.restart_overhead;
}

Scheduler::Scheduler(const catalog::Catalog& catalog, const policy::Engine& engine,
                     const ThroughputModel& throughput, SchedulerOptions options)
    : impl_(std::make_unique<Impl>(catalog, engine, throughput)), options_(std::move(options)) {}

Scheduler::~Scheduler() = default;

Duration Scheduler::checkpoint_time(const Job& job) const {
  if (job.checkpoint_gb <= 0 || options_.checkpoint_bandwidth_gbps <= 0) return Duration();
  return Duration::seconds(
      static_cast<std::int64_t>(std::ceil(job.checkpoint_gb / options_.checkpoint_bandwidth_gbps)));
}

Duration Scheduler::wall_time(const Job& job, Duration compute) const {
  const Duration interval = job.checkpoint_interval;
  if (interval <= Duration() || compute <= Duration()) return compute;
  const std::int64_t written =
      (compute.count_microseconds() - 1) / interval.count_microseconds();  // not at the end
  return compute + checkpoint_time(job) * written;
}

Scheduler::Progress Scheduler::progress(const Job& job, Duration elapsed) const {
  const Duration interval = job.checkpoint_interval;
  if (elapsed <= Duration()) return {};
  if (interval <= Duration()) return {elapsed, Duration(), Duration()};
  const Duration cycle = interval + checkpoint_time(job);
  const std::int64_t done = elapsed.count_microseconds() / cycle.count_microseconds();
  const Duration into = elapsed - cycle * done;
  return {interval * done + std::min(into, interval), interval * done, cycle * done};
}

namespace {

// The window of a pass shared by org: marks in `in_window` (by pending job)
// `size` of the first `to_try` jobs of `order` (the queue itself when null),
// round robin by org: each org in turn, in the order its first job comes,
// gives its next job, until the window is full. Deterministic: it depends
// on the order alone.
void select_window(const ClusterState& state, const std::vector<std::size_t>* order,
                   std::size_t to_try, std::size_t size, std::vector<char>& in_window) {
  in_window.assign(state.pending.size(), 0);
  std::map<OrgId, std::size_t> bucket_of;
  std::vector<std::vector<std::size_t>> buckets;  // each org's jobs, in order
  for (std::size_t place = 0; place < to_try; ++place) {
    const std::size_t i = order == nullptr ? place : (*order)[place];
    auto [it, added] = bucket_of.try_emplace(state.pending[i].job->org, buckets.size());
    if (added) buckets.emplace_back();
    buckets[it->second].push_back(i);
  }
  std::vector<const std::vector<std::size_t>*> left;  // orgs with jobs still to give
  for (const auto& b : buckets) left.push_back(&b);
  std::size_t taken = 0;
  for (std::size_t round = 0; taken < size && !left.empty(); ++round) {
    std::size_t kept = 0;
    for (const std::vector<std::size_t>* b : left) {
      if (taken == size) break;
      in_window[(*b)[round]] = 1;
      ++taken;
      if (b->size() > round + 1) left[kept++] = b;
    }
    left.resize(kept);
  }
}

}  // namespace
namespace {

// Scoring: whether candidate x is better than y. The site preference comes
// first, then as the scoring ranks them, ties to pool order.
bool better(Scoring scoring, const Candidate& x, const Candidate& y) {
  if (x.site_rank != y.site_rank) return x.site_rank < y.site_rank;
  if (scoring == Scoring::kThroughput && x.neg_speed != y.neg_speed) {
    return x.neg_speed < y.neg_speed;
  }
  if (scoring == Scoring::kCost && x.cost != y.cost) return x.cost < y.cost;
  if (x.price != y.price) return x.price < y.price;
  if (x.neg_speed != y.neg_speed) return x.neg_speed < y.neg_speed;
  return x.pool < y.pool;
}

const Candidate& best_candidate(Scoring scoring, const std::vector<Candidate>& candidates) {
  return *std::min_element(
      candidates.begin(), candidates.end(),
      [scoring](const Candidate& x, const Candidate& y) { return better(scoring, x, y); });
}

// Why a job no pool took waits, from the filters' reasons.
std::string wait_reason(const std::vector<std::string>& rejections, std::size_t rejected) {
  if (rejected == 0) {
    return "no pool it may use (no lease or own pool with an eligible chip and site)";
  }
  std::string reason = rejections[0];
  for (std::size_t r = 1; r < rejections.size() && r < 3; ++r) reason += "; " + rejections[r];
  if (rejected > 3) reason += "; and " + std::to_string(rejected - 3) + " more";
  return reason;
}

}  // namespace

void Scheduler::Impl::order_queue(Pass& pass, const std::vector<std::size_t>& indexes) {
  const ClusterState& state = pass.state;
  const bool sorts = pass.policy.sort != nullptr;
  pass.in_queue_order = indexes.empty() && !sorts;
  if (indexes.empty()) {
    if (sorts) {
      order.resize(state.pending.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    }
  } else {
    order = indexes;
  }
  pass.to_try = pass.in_queue_order ? state.pending.size() : order.size();
  if (pass.fair_share || !pass.options.quotas.empty()) {
    for (const RunningJob& r : state.running()) {
      pass.org_gpus[r.job->org] += r.job->gpus;
      if (pass.fair_share) pass.team_gpus[{r.job->org, r.job->team}] += r.job->gpus;
    }
  }
  if (sorts) {
    pass.policy.sort(QueueSortContext{state, pass.options, pass.org_gpus, pass.team_gpus}, order);
  }
}

void Scheduler::Impl::open_window(Pass& pass) {
  const std::size_t size = pass.options.max_jobs_per_pass;
  pass.fair_window = pass.options.share_window_by_org && size != 0 && pass.to_try > size;
  if (pass.fair_window) {
    select_window(pass.state, pass.in_queue_order ? nullptr : &order, pass.to_try, size, in_window);
  }
}

std::size_t Scheduler::Impl::pass_over_hopeless(Pass& pass, std::size_t place) const {
  const std::size_t from = place;
  const auto& pending = pass.state.pending;
  for (; place < pass.to_try; ++place) {
    const std::uint32_t k = pending[pass.in_queue_order ? place : order[place]].scheduler_class;
    if (k == 0 || k > hopeless_in_pass.size() || hopeless_in_pass[k - 1] != 2) break;
  }
  pass.considered += place - from;
  return place;
}

bool Scheduler::Impl::pre_filter(Pass& pass, std::size_t i, const PendingJob& pending) {
  const SchedulerOptions& options = pass.options;
  const bool outside_window = pass.fair_window ? in_window[i] == 0
                                               : options.max_jobs_per_pass != 0 &&
                                                     ++pass.considered > options.max_jobs_per_pass;
  if (outside_window) {
    pass.wait(Waiting{i,
                      !pass.explain ? std::string()
                      : pass.fair_window
                          ? "not reached in this pass (the scheduler considers " +
                                std::to_string(options.max_jobs_per_pass) +
                                " queued jobs a pass, shared round robin by org)"
                          : "not reached in this pass (the scheduler considers "
                            "the first " +
                                std::to_string(options.max_jobs_per_pass) + " queued jobs)",
                      false, RuleId()});
    return true;
  }
  if (pass.blocked && pass.policy.blocks) {
    pass.wait(
        Waiting{i, pass.explain ? "waiting behind " + pass.blocked_by + " (FIFO)" : std::string(),
                false, RuleId()});
    return true;
  }
  // The Job itself is read only when needed: in a long queue most jobs are
  // settled from their class alone, and reading each job's memory would
  // cost more than the rest of the pass.
  if (auto quota =
          options.quotas.empty() ? options.quotas.end() : options.quotas.find(pending.job->org);
      quota != options.quotas.end()) {
    const Job& job = *pending.job;
    auto held = pass.org_gpus.find(job.org);
    std::int32_t now_held = held == pass.org_gpus.end() ? 0 : held->second;
    if (now_held + job.gpus > quota->second) {
      pass.wait(Waiting{i,
                        pass.explain ? "org " + job.org.str() + " holds " + gpus_text(now_held) +
                                           " of its quota of " + std::to_string(quota->second)
                                     : std::string(),
                        job.gpus > quota->second, RuleId()});
      return true;
    }
  }
  return false;
}

// A job of a class found hopeless earlier in this pass is too: capacity
// only shrinks during a pass, and nothing else it was refused for depends
// on the job itself (see Trial::job_specific). Its class has claimed for it.
void Scheduler::Impl::wait_as_class(Pass& pass, std::size_t i, std::uint32_t k) {
  if (hopeless_in_pass[k] == 1)
    pass.plan.waiting.push_back(Waiting{i, std::string(), true, RuleId()});
}

bool Scheduler::Impl::class_pre_filter(Pass& pass, std::size_t i, const PendingJob& pending,
                                       Trial& t) {
  std::vector<char>& hopeless = hopeless_in_pass;
  // Most jobs of a long queue are of a class found hopeless earlier in
  // the pass: this path reads no more than it must.
  if (const std::uint32_t known = pending.scheduler_class;
      pass.memos && known != 0 && known <= hopeless.size() && hopeless[known - 1] != 0) {
    wait_as_class(pass, i, known - 1);
    return true;
  }
  JobClass& klass = class_of(pending);
  const auto klass_index = static_cast<std::uint32_t>(&klass - classes.data());
  if (pass.memos && klass_index < hopeless.size() && hopeless[klass_index] != 0) {
    wait_as_class(pass, i, klass_index);  // (its hint was set in this pass)
    return true;
  }
  t.index = i;
  t.pending = &pending;
  t.klass = &klass;
  t.klass_index = klass_index;
  t.org_index = klass.org;
  if (ent_org_count != orgs.size()) entitlements(pass.state, pass.now);  // a new org
  t.org = &org(klass.org);  // (after: entitlements may add orgs)
  t.ent = &ent[static_cast<std::size_t>(klass.org) * pool_count];
  t.usable = &usable_pools(klass);
  // A class found hopeless in an earlier pass still is; the job waits,
  // and claims as its class did, unless something of its own would have
  // refused it somewhere (its price ceiling, its deadline, or a cut it
  // could not run to the end of): it is tried in full then, as the
  // class's Hopeless finding rested on no such refusal.
  if (pass.memos && still_hopeless(klass, pass.state, pass.now, pass.easy) &&
      !pending.job->preferences.max_price_per_gpu_hour &&
      !(meets_deadlines && pending.job->deadline) &&
      !cut_short(pass.scheduler, pending, klass, pass.now) &&
      still_blocked(pass.scheduler, pass.state, pending, klass, pass.now)) {
    const auto& h = klass.hopeless;
    if (h.blocked.empty()) {
      if (hopeless.size() <= klass_index) hopeless.resize(classes.size(), 0);
      hopeless[klass_index] = h.could_ever ? 2 : 1;
    }
    // (Most jobs of a long queue pass here: no Waiting is built unless kept.)
    if (pass.explain || !h.could_ever) {
      pass.plan.waiting.push_back(Waiting{i, std::string(), !h.could_ever, RuleId()});
    }
    if (h.could_ever) block_or_claim(pass, *pending.job, klass_index, klass.org, klass.claim);
    return true;
  }
  // Explaining: a job of a class whose last job waits for what still holds
  // waits alike (see JobClass::Explained).
  if (pass.explain && !pass.preempting &&
      explained_alike(pass.scheduler, pending, klass, *t.usable, pass.now)) {
    const auto& x = klass.explained;
    pass.wait(Waiting{i, x.reason, !x.could_ever, rule_ids[x.rule]});
    if (x.could_ever) block_or_claim(pass, *pending.job, klass_index, klass.org, x.claim);
    return true;
  }
  return false;
}

void Scheduler::Impl::block_or_claim(Pass& pass, const Job& job, std::uint32_t klass,
                                     std::uint32_t who, const std::vector<std::uint32_t>& pools) {
  if (pass.policy.blocks) {
    pass.blocked = true;
    pass.blocked_by = job.id.str();
  } else if (pass.easy) {
    // The first blocked job of a class claims for it (its jobs need the same
    // GPUs on the same pools, and wait in queue order), explaining or not.
    if (claimed_for_class.size() <= klass) claimed_for_class.resize(classes.size(), 0);
    if (claimed_for_class[klass] == 0 && add_claim(job, klass, who, pools)) {
      claimed_for_class[klass] = 1;
    }
  }
}

void Scheduler::Impl::start(Pass& pass, Trial& t, const Candidate& best) {
  const Job& job = *t.pending->job;
  Allocation allocation = *fit(view(pass.state, best.pool), job.gpus);
  std::string cut_reason;
  if (best.must_leave_by != Instant::max()) {
    if (best.cut_text != nullptr) {
      cut_reason = *best.cut_text;
    } else if (best.lease != nullptr) {
      cut_reason = "lease " + best.lease->id.str() + " ends";
    }
  }
  take(pass.state, t.org_index, allocation, job.gpus);
  if (pass.easy) {
    hold_against_reservation(allocation, t.org_index, job.gpus,
                             std::min(best.expected_end, best.must_leave_by));
  }
  if (pass.fair_share || !pass.options.quotas.empty()) pass.org_gpus[job.org] += job.gpus;
  if (pass.fair_share) pass.team_gpus[{job.org, job.team}] += job.gpus;
  pass.plan.starts.push_back(Start{t.index, std::move(allocation), best.expected_end,
                                   best.must_leave_by, std::move(cut_reason),
                                   rule_ids[best.cut_rule]});
}

void Scheduler::Impl::refused(Pass& pass, Trial& t) {
  std::string reason = pass.explain ? wait_reason(t.rejections, t.rejected) : std::string();
  remember_refusal(pass, t, reason);
  if (pass.preempting && t.could_ever && !preempt_pools.empty()) preempt(pass, t, reason);
  pass.wait(Waiting{t.index, std::move(reason), !t.could_ever, rule_ids[t.refusing_rule]});
  if (t.could_ever) block_or_claim(pass, *t.pending->job, t.klass_index, t.org_index, job_claim);
  // (A job that can never run never blocks the queue.)
}

// What a job no pool took says of its class: none of its jobs can start
// while what refused it holds (Hopeless), or, explaining, they wait for the
// same reason (Explained). Not when something of the job's own refused it.
void Scheduler::Impl::remember_refusal(Pass& pass, Trial& t, const std::string& reason) {
  JobClass& klass = *t.klass;
  klass.hopeless.valid = false;
  const bool only_blocked = t.job_specific && !t.specific_before_reservations &&
                            !blocked_at.empty() &&
                            std::none_of(blocked_at.begin(), blocked_at.end(),
                                         [](const auto& b) { return b.revision == 0; });
  if ((!t.job_specific || only_blocked) && pass.memos) {
    // (A job of the class that runs shorter might start at a reserved
    // pool: this pass tries each in turn.)
    if (!only_blocked) {
      if (hopeless_in_pass.size() <= t.klass_index) {
        hopeless_in_pass.resize(classes.size(), 0);
      }
      hopeless_in_pass[t.klass_index] = t.could_ever ? 2 : 1;
    }
    auto& h = klass.hopeless;
    h.blocked = blocked_at;
    h.valid = true;
    h.could_ever = t.could_ever;
    h.claim_whole = t.claim_whole;
    h.ent_version = ent_version;
    h.until = t.holds_until;
    h.short_of = short_of;
    h.earliest_cut.reset();
    klass.claim = job_claim;
  }
  if (pass.explain && !pass.preempting && !t.job_specific) {
    auto& x = klass.explained;
    x.pass = pass_seq;
    x.take_seq = take_seq;
    x.ent_version = ent_version;
    x.reason = reason;
    x.rule = t.refusing_rule;
    x.could_ever = t.could_ever;
    x.claim = job_claim;
    x.short_of.clear();
    for (const auto& s : short_of) x.short_of.push_back(s.pool);
  } else if (pass.explain) {
    klass.explained.pass = 0;
  }
}

Plan Scheduler::plan(const ClusterState& state, Instant now, bool explain) {
  return plan_subset(state, now, {}, explain);
}

// The driver: each job in queue order through the pre-filters, the filters
// of its pools, EASY's reservations and scoring; it starts at the best pool
// left, or waits (after the post-filter, preemption).
Plan Scheduler::plan_subset(const ClusterState& state, Instant now,
                            const std::vector<std::size_t>& indexes, bool explain) {
  Impl& impl = *impl_;
  Impl::Pass pass(*this, state, now, explain);
  if (explain) pass.plan.waiting.reserve(indexes.empty() ? state.pending.size() : indexes.size());
  impl.meets_deadlines = pass.scoring == Scoring::kCost;
  impl.entitlements(state, now);
  impl.begin_pass();
  impl.order_queue(pass, indexes);
  // By class: 0 unknown, 1 no job of it can start in this pass and none ever
  // could (never), 2 none can start in this pass.
  impl.hopeless_in_pass.assign(impl.classes.size(), 0);
  // By class: whether one of its jobs made an EASY claim in this pass.
  impl.claimed_for_class.assign(impl.classes.size(), 0);
  impl.open_window(pass);
  // Jobs of a class found hopeless earlier in the pass (one that may start
  // later) are passed over in a loop that reads only their class: in a long
  // queue they are most of the jobs. (Not with quotas, checked first.)
  const bool pass_over = pass.memos && options_.quotas.empty();
  Impl::Trial& trial = impl.trial;
  for (std::size_t place = 0; place < pass.to_try; ++place) {
    if (pass_over && (place = impl.pass_over_hopeless(pass, place)) == pass.to_try) break;
    const std::size_t i = pass.in_queue_order ? place : impl.order[place];
    const PendingJob& pending = state.pending[i];
    if (impl.pre_filter(pass, i, pending)) continue;
    if (impl.class_pre_filter(pass, i, pending, trial)) continue;
    impl.filter_pools(pass, trial);
    if (pass.easy) impl.keep_reservations(pass, trial);
    if (!trial.candidates.empty()) {
      impl.start(pass, trial, best_candidate(pass.scoring, trial.candidates));
    } else {
      impl.refused(pass, trial);
    }
  }
  return std::move(pass.plan);
}

}  // namespace straits::sched
