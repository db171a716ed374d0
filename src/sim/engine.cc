#include "sim/engine.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>

#include "catalog/load.h"
#include "sched/scheduler.h"
#include "sim/internal/csv.h"
#include "sim/internal/output.h"
#include "sim/internal/random.h"
#include "sim/internal/stats.h"
#include "sim/internal/text.h"
#include "sim/workload.h"

#ifndef STRAITS_VERSION
#define STRAITS_VERSION "0.0.0"
#endif

namespace straits::sim {
namespace {

using internal::append_fixed;
using internal::append_int;

namespace fs = std::filesystem;
using nlohmann::json;

enum class JobState { kFuture, kPending, kRunning, kCompleted, kStopped, kNever };

const char* state_name(JobState s) {
  switch (s) {
    case JobState::kFuture:
    case JobState::kPending: return "pending";
    case JobState::kRunning: return "running";
    case JobState::kCompleted: return "completed";
    case JobState::kStopped: return "stopped";
    case JobState::kNever: return "never";
  }
  return "?";
}

struct JobRecord {
  const sched::Job* job = nullptr;
  JobState state = JobState::kFuture;
  double remaining = 0;
  std::uint32_t run = 0;  // incremented at each start; stale events carry an old one
  sched::Allocation allocation;
  Instant started, must_leave_by, expected_end;
  std::string cut_reason;
  std::uint32_t cut_rule = 0;    // the rule behind cut_reason (Simulation::rule_ids_); 0: none
  std::uint32_t refused_by = 0;  // stopped or never: the first rule that refused it; 0: none
  std::optional<Instant> first_start, end;
  std::vector<std::uint32_t> pools;  // used, in order of first use
  double gpu_hours = 0, cost = 0, lost_gpu_hours = 0;
  int checkpoints = 0, moves = 0;
  bool preempted = false;  // the checkpoint being written is for a preemption
  std::string reason;
  std::size_t running_pos = 0;  // in ClusterState::running while running
  // Found at its first start, to spare a lookup by name at each start and end.
  std::uint32_t org_slot = sched::kNoOrgSlot;
  double* spent = nullptr;  // its (org, team) entry in ClusterState::spent
};

// For kFail and kRepair, `job` holds the pool and `run` the node.
// For kPrice, `job` holds the index of the scenario's price change.
enum class EventKind { kArrive, kFinish, kCutStart, kCutDone, kWake, kFail, kRepair, kPrice };

struct Event {
  Instant at;
  std::uint64_t seq = 0;
  EventKind kind = EventKind::kWake;
  std::uint32_t job = 0;
  std::uint32_t run = 0;
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

using internal::percentile;

json distribution(std::vector<double> v) {
  double mean = 0;
  for (double x : v) mean += x;
  if (!v.empty()) mean /= static_cast<double>(v.size());
  std::sort(v.begin(), v.end());
  auto r = [](double x) { return std::round(x * 1000) / 1000; };
  return {{"count", v.size()},
          {"mean", r(mean)},
          {"p50", r(percentile(v, 0.5))},
          {"p95", r(percentile(v, 0.95))},
          {"p99", r(percentile(v, 0.99))}};
}

class Simulation {
 public:
  Simulation(const Scenario& scenario, const catalog::Catalog& catalog,
             const policy::Engine& engine, const sched::ThroughputModel& throughput,
             std::vector<sched::Job> jobs, const SimOptions& options, fs::path out)
      : scenario_(scenario),
        catalog_(catalog),
        engine_(engine),
        throughput_(throughput),
        scheduler_(catalog, engine, throughput, scenario.scheduler),
        jobs_(std::move(jobs)),
        progress_(options.progress && ::isatty(2)),
        on_progress_(options.on_progress),
        out_(std::move(out)) {}

  // Runs to the horizon, writing intervals.csv and timeseries.csv as it goes.
  Status run() {
    std::error_code ec;
    fs::create_directories(out_, ec);
    if (ec) {
      return Error(ErrorCode::kUnavailable, "cannot create " + out_.string() + ": " + ec.message());
    }
    STRAITS_TRY(intervals_out_.open(out_ / "intervals.csv"));
    STRAITS_TRY(timeseries_out_.open(out_ / "timeseries.csv"));
    STRAITS_TRY(moves_out_.open(out_ / "moves.csv"));
    intervals_out_.write("job,org,pool,gpus,start,end,nodes,end_reason,cost\n");
    moves_out_.write("job,org,team,pool,gpus,at,kind,reason,rule,lost_gpu_hours\n");
    timeseries_out_.write("time,pool,busy_gpus,leased_gpus,pending_jobs\n");
    end_ = scenario_.start + scenario_.horizon;
    state_ = sched::ClusterState::empty_fleet(catalog_);
    state_.set_leases(scenario_.leases);
    records_.resize(jobs_.size());
    // Arrivals come from the jobs in order, not through the event queue (a
    // million of them would make every push and pop slower); at a tie they go
    // before any other event, as if queued first.
    arrivals_.resize(jobs_.size());
    for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
      records_[i].job = &jobs_[i];
      records_[i].remaining = jobs_[i].work;
      arrivals_[i] = i;
    }
    auto arrives_before = [&](std::uint32_t a, std::uint32_t b) {
      return arrival_time(a) < arrival_time(b);
    };
    if (!std::is_sorted(arrivals_.begin(), arrivals_.end(), arrives_before)) {
      std::stable_sort(arrivals_.begin(), arrivals_.end(), arrives_before);
    }
    for (const auto& l : scenario_.leases) {
      push(l.start, EventKind::kWake, 0, 0);
      push(l.end, EventKind::kWake, 0, 0);
    }
    for (Instant t : engine_.change_points()) push(t, EventKind::kWake, 0, 0);
    for (const auto& l : state_.leases()) {
      const catalog::Pool* pool = catalog_.find_pool(l.pool);
      lease_pool_.push_back(pool == nullptr
                                ? std::numeric_limits<std::uint32_t>::max()
                                : static_cast<std::uint32_t>(pool - catalog_.pools().data()));
    }
    last_busy_.assign(state_.pools().size(), -1);
    busy_gpu_hours_.assign(state_.pools().size(), 0);
    setup_failures();
    price_history_.resize(state_.pools().size());
    for (std::uint32_t p = 0; p < state_.pools().size(); ++p) {
      price_history_[p].emplace_back(Instant::min(), state_.pools()[p].price.units());
    }
    for (std::uint32_t i = 0; i < scenario_.price_changes.size(); ++i) {
      push(scenario_.price_changes[i].at, EventKind::kPrice, i, 0);
    }
    auto wall_start = std::chrono::steady_clock::now();
    auto last_print = wall_start;

    for (;;) {
      Instant now = events_.empty() ? Instant::max() : events_.top().at;
      if (next_arrival_ < arrivals_.size()) {
        now = std::min(now, arrival_time(arrivals_[next_arrival_]));
      }
      if (now == Instant::max() || now > end_) break;
      if (now < scenario_.start) {  // before the start: only lets wakes pass
        events_.pop();
        continue;
      }
      bool only_arrivals = true;
      std::size_t waiting_before = state_.pending.size();
      arrived_.clear();
      while (next_arrival_ < arrivals_.size() && arrival_time(arrivals_[next_arrival_]) == now) {
        ++event_count_;
        handle(Event{now, 0, EventKind::kArrive, arrivals_[next_arrival_++], 0}, now);
      }
      while (!events_.empty() && events_.top().at == now) {
        Event e = events_.top();
        events_.pop();
        ++event_count_;
        only_arrivals = false;
        handle(e, now);
      }
      schedule(now, only_arrivals && waiting_before > 0);
      record_timeseries(now);
      if ((progress_ || on_progress_) && event_count_ >= next_progress_check_) {
        next_progress_check_ = event_count_ + 1024;
        if (on_progress_ && !on_progress_(fraction_done(now))) {
          return Error(ErrorCode::kUnavailable, "the simulation was cancelled");
        }
        auto wall = std::chrono::steady_clock::now();
        if (progress_ && wall - last_print > std::chrono::milliseconds(200)) {
          print_progress(now, wall - wall_start);
          last_print = wall;
        }
      }
    }
    if (progress_) std::fprintf(stderr, "\r%-100s\r", "");
    // Why each job still waiting waits, as of the horizon.
    if (!state_.pending.empty()) {
      sched::Plan last = scheduler_.plan(state_, end_, /*explain=*/true);
      for (const auto& w : last.waiting) {
        records_[index_of(state_.pending[w.pending_index].job)].reason = w.reason;
      }
    }
    // The horizon: what still runs is cut there, for the record.
    for (std::uint32_t i = 0; i < records_.size(); ++i) {
      JobRecord& r = records_[i];
      if (r.state == JobState::kRunning) close_interval(i, end_, "horizon");
    }
    STRAITS_TRY(intervals_out_.close());
    STRAITS_TRY(moves_out_.close());
    return timeseries_out_.close();
  }

  // Writes the rest: run.json, workload.jsonl, jobs.csv and summary.json.
  Status write(const std::vector<std::string>& workload_notes) const;
  SimSummary summary() const;

 private:
  // An instant as written, for the many rows written at the same one.
  const std::string& now_text(Instant now) {
    if (now != now_text_at_) {
      now_text_.clear();  // (its buffer stays: no allocation per instant)
      append_iso8601(now_text_, now);
      now_text_at_ = now;
    }
    return now_text_;
  }

  Instant arrival_time(std::uint32_t job) const {
    return std::max(jobs_[job].submit, scenario_.start);
  }

  void push(Instant at, EventKind kind, std::uint32_t job, std::uint32_t run) {
    events_.push(Event{at, next_seq_++, kind, job, run});
  }

  // Failures: a stream of random draws per node, so that one pool's
  // failures do not depend on another's.
  void setup_failures() {
    const FailureModel& f = scenario_.failures;
    down_.resize(state_.pools().size());
    down_gpus_.assign(state_.pools().size(), 0);
    std::uint64_t stream = 0;
    for (std::uint32_t p = 0; p < state_.pools().size(); ++p) {
      const auto& pool = *state_.pools()[p].pool;
      down_[p].assign(static_cast<std::size_t>(pool.nodes), 0);
      auto it = f.pool_mtbf_hours.find(pool.id);
      double mtbf = it != f.pool_mtbf_hours.end() ? it->second : f.mtbf_hours;
      mtbf_.push_back(mtbf);
      node_base_.push_back(static_cast<std::uint32_t>(randoms_.size()));
      for (std::uint32_t n = 0; n < static_cast<std::uint32_t>(pool.nodes); ++n) {
        randoms_.emplace_back(scenario_.seed, 1'000'000 + stream++);
        if (mtbf > 0) schedule_failure(p, n, scenario_.start);
      }
    }
    for (const auto& i : f.injected) {
      for (std::uint32_t p = 0; p < state_.pools().size(); ++p) {
        if (state_.pools()[p].pool->id == i.pool)
          push(i.at, EventKind::kFail, p, static_cast<std::uint32_t>(i.node));
      }
    }
  }

  void schedule_failure(std::uint32_t pool, std::uint32_t node, Instant from) {
    double hours = internal::exponential_with_mean(randoms_[node_base_[pool] + node], mtbf_[pool]);
    push(from + Duration::from_seconds(hours * 3600), EventKind::kFail, pool, node);
  }

  void fail_node(std::uint32_t pool, std::uint32_t node, Instant now) {
    if (down_[pool][node]) return;
    ++failures_;
    // Every job with GPUs on the node stops; it keeps the work of its last
    // periodic checkpoint and loses the rest.
    std::vector<std::uint32_t> hit;
    for (std::uint32_t at : state_.running_by_pool(pool)) {
      const sched::RunningJob& running = state_.running()[at];
      for (const auto& [n, gpus] : running.allocation.nodes) {
        if (n == static_cast<std::int32_t>(node)) hit.push_back(index_of(running.job));
      }
    }
    for (std::uint32_t j : hit) {
      JobRecord& r = records_[j];
      Duration elapsed = now - r.started;
      Duration overhead =
          r.remaining < r.job->work ? scenario_.scheduler.restart_overhead : Duration();
      // What the run did after its restart, and what of it its last
      // completed checkpoint saved; the rest (and the restart) is lost.
      const sched::Scheduler::Progress done =
          scheduler_.progress(*r.job, std::max(Duration(), elapsed - overhead));
      r.remaining = std::max(
          0.0, r.remaining - throughput_.work_done(*r.job, *state_.pools()[pool].chip, done.saved));
      const Duration kept = done.saved_at > Duration() ? overhead + done.saved_at : Duration();
      const double lost = r.job->gpus * (elapsed - kept).to_hours();
      r.lost_gpu_hours += lost;
      close_interval(j, now, "failed");
      r.reason = "restarting after a node failure on " + state_.pools()[pool].pool->id.str();
      write_move(
          j, pool, now, "failed",
          "node " + std::to_string(node) + " of " + state_.pools()[pool].pool->id.str() + " failed",
          0, lost);
      r.state = JobState::kPending;
      insert_pending(j);
    }
    down_[pool][node] = 1;
    down_gpus_[pool] += state_.pools()[pool].free()[node];
    state_.set_free(pool, node, 0);
    push(now + scenario_.failures.repair, EventKind::kRepair, pool, node);
  }

  void repair_node(std::uint32_t pool, std::uint32_t node, Instant now) {
    if (!down_[pool][node]) return;
    std::int32_t gpus = state_.pools()[pool].pool->gpus_per_node;
    down_[pool][node] = 0;
    down_gpus_[pool] -= gpus;
    state_.set_free(pool, node, gpus);
    if (mtbf_[pool] > 0) schedule_failure(pool, node, now);
  }

  void change_price(const PriceChange& change, Instant now) {
    for (std::uint32_t p = 0; p < state_.pools().size(); ++p) {
      if (state_.pools()[p].pool->id != change.pool) continue;
      state_.set_price(p, change.price);
      price_history_[p].emplace_back(now, change.price.units());
    }
  }

  // The list price of a pool integrated over [from, to), in money x hours per GPU.
  double list_cost(std::uint32_t pool, Instant from, Instant to) const {
    const auto& history = price_history_[pool];
    double total = 0;
    for (std::size_t i = 0; i < history.size(); ++i) {
      Instant begin = std::max(from, history[i].first);
      Instant end = i + 1 < history.size() ? std::min(to, history[i + 1].first) : to;
      if (end > begin) total += (end - begin).to_hours() * history[i].second;
    }
    return total;
  }

  void handle(const Event& e, Instant now) {
    if (e.kind == EventKind::kPrice) {
      change_price(scenario_.price_changes[e.job], now);
      return;
    }
    if (e.kind == EventKind::kFail || e.kind == EventKind::kRepair) {
      if (e.job >= state_.pools().size() || e.run >= down_[e.job].size()) return;
      if (e.kind == EventKind::kFail) {
        fail_node(e.job, e.run, now);
      } else {
        repair_node(e.job, e.run, now);
      }
      return;
    }
    JobRecord& r = records_[e.job];
    switch (e.kind) {
      case EventKind::kWake:
      case EventKind::kFail:
      case EventKind::kRepair:
      case EventKind::kPrice: return;
      case EventKind::kArrive:
        r.state = JobState::kPending;
        insert_pending(e.job);
        arrived_.push_back(&jobs_[e.job]);
        return;
      case EventKind::kFinish:
        if (r.state != JobState::kRunning || r.run != e.run) return;
        r.remaining = 0;
        close_interval(e.job, now, "completed");
        r.state = JobState::kCompleted;
        r.end = now;
        ++finished_;
        return;
      case EventKind::kCutStart: {
        if (r.state != JobState::kRunning || r.run != e.run) return;
        // Progress up to now is saved by the checkpoint written until must_leave_by.
        const sched::PoolState& pool = state_.pools()[r.allocation.pool];
        Duration elapsed = now - r.started;
        if (r.remaining < r.job->work) elapsed -= scenario_.scheduler.restart_overhead;
        const Duration computed = scheduler_.progress(*r.job, elapsed).computed;
        if (computed > Duration()) {
          r.remaining =
              std::max(0.0, r.remaining - throughput_.work_done(*r.job, *pool.chip, computed));
        }
        push(r.must_leave_by, EventKind::kCutDone, e.job, r.run);
        return;
      }
      case EventKind::kCutDone: {
        if (r.state != JobState::kRunning || r.run != e.run) return;
        close_interval(e.job, now, r.preempted ? "preempted" : "checkpointed");
        ++r.checkpoints;
        const double lost =
            r.job->gpus *
            (scheduler_.checkpoint_time(*r.job) + scenario_.scheduler.restart_overhead).to_hours();
        r.lost_gpu_hours += lost;
        write_move(e.job, r.allocation.pool, now, r.preempted ? "preempted" : "moved", r.cut_reason,
                   r.preempted ? 0 : r.cut_rule, lost);
        if (r.preempted) {
          r.reason = r.cut_reason;
          ++preemptions_;
          r.preempted = false;
        } else {
          ++r.moves;
          r.reason = "checkpointed and left: " + r.cut_reason;
          ++moves_by_reason_[r.cut_reason];
        }
        r.state = JobState::kPending;
        insert_pending(e.job);
        return;
      }
    }
  }

  void insert_pending(std::uint32_t job) {
    sched::PendingJob p{&jobs_[job], records_[job].remaining};
    // Arrival order by (submit, id): a moved job keeps its place in the queue.
    auto pos = std::upper_bound(state_.pending.begin(), state_.pending.end(), p,
                                [](const sched::PendingJob& a, const sched::PendingJob& b) {
                                  return a.job->submit != b.job->submit
                                             ? a.job->submit < b.job->submit
                                             : a.job->id < b.job->id;
                                });
    state_.pending.insert(pos, p);
  }

  std::uint32_t index_of(const sched::Job* job) const {
    return static_cast<std::uint32_t>(job - jobs_.data());
  }

  void close_interval(std::uint32_t job, Instant now, const char* reason) {
    JobRecord& r = records_[job];
    state_.release(r.org_slot, r.allocation);
    // Order in `running` carries no meaning: swap with the last and pop, O(1).
    std::size_t pos = r.running_pos;
    state_.remove_running(pos);
    if (pos < state_.running().size())
      records_[index_of(state_.running()[pos].job)].running_pos = pos;
    const catalog::Pool& pool = *state_.pools()[r.allocation.pool].pool;
    double hours = (now - r.started).to_hours() * r.job->gpus;
    r.gpu_hours += hours;
    double cost = cost_of(r, r.allocation.pool, now);
    r.cost += cost;
    if (r.spent == nullptr) r.spent = &state_.spent[{r.job->org, r.job->team}];  // (map: stable)
    *r.spent += cost;
    busy_gpu_hours_[r.allocation.pool] += hours;
    std::string& row = intervals_out_.row();
    row += r.job->id.str();
    row += ',';
    row += r.job->org.str();
    row += ',';
    row += pool.id.str();
    row += ',';
    append_int(row, r.job->gpus);
    row += ',';
    append_iso8601(row, r.started);
    row += ',';
    row += now_text(now);
    row += ',';
    for (std::size_t k = 0; k < r.allocation.nodes.size(); ++k) {
      const auto& [node, gpus] = r.allocation.nodes[k];
      if (k > 0) row += ';';
      append_int(row, node);
      row += ':';
      append_int(row, gpus);
    }
    row += ',';
    row += reason;
    row += ',';
    append_fixed(row, cost, 2);
    row += '\n';
    intervals_out_.end_row();
  }

  // The index of a rule in rule_ids_ (added if new); 0 for none. Few rules
  // ever cut or refuse a job: a search of the list is enough.
  std::uint32_t rule_index(const RuleId& rule) {
    if (rule.empty()) return 0;
    for (std::uint32_t i = 1; i < rule_ids_.size(); ++i) {
      if (rule_ids_[i] == rule) return i;
    }
    rule_ids_.push_back(rule);
    return static_cast<std::uint32_t>(rule_ids_.size() - 1);
  }

  // A row of moves.csv: the job left `pool` at `now` for something other
  // than completing or the horizon.
  void write_move(std::uint32_t job, std::uint32_t pool, Instant now, const char* kind,
                  const std::string& reason, std::uint32_t rule, double lost_gpu_hours) {
    const JobRecord& r = records_[job];
    std::string& row = moves_out_.row();
    internal::append_csv_cell(row, r.job->id.str());
    row += ',';
    row += r.job->org.str();
    row += ',';
    internal::append_csv_cell(row, r.job->team);
    row += ',';
    row += state_.pools()[pool].pool->id.str();
    row += ',';
    append_int(row, r.job->gpus);
    row += ',';
    row += now_text(now);
    row += ',';
    row += kind;
    row += ',';
    internal::append_csv_cell(row, reason);
    row += ',';
    row += rule_ids_[rule].str();
    row += ',';
    append_fixed(row, lost_gpu_hours, 6);
    row += '\n';
    moves_out_.end_row();
  }

  // A run's cost: its lease's contracted price, or the pool's list price as
  // it was over the run (for the org's own pools).
  double cost_of(const JobRecord& r, std::uint32_t index, Instant now) const {
    for (std::size_t i = 0; i < state_.leases().size(); ++i) {
      const sched::Lease& l = state_.leases()[i];
      if (lease_pool_[i] == index && l.start <= r.started && r.started < l.end &&
          l.org == r.job->org) {
        return (now - r.started).to_hours() * r.job->gpus * l.price_per_gpu_hour.units();
      }
    }
    return list_cost(index, r.started, now) * r.job->gpus;
  }

  // `arrivals_behind_waiting`: the batch held only arrivals and jobs were
  // already waiting. Nothing but the newcomers changed since the last pass,
  // which left every waiting job unable to start: under FIFO the newcomers
  // wait behind them; under EASY only the newcomers (and the head, for its
  // reservation) need trying. Other policies reorder the queue: full pass.
  void schedule(Instant now, bool arrivals_behind_waiting) {
    const sched::QueuePolicyInfo& policy = sched::queue_policy_info(scenario_.scheduler.policy);
    // In arrival order, a blocking policy keeps newcomers behind the waiting
    // jobs, and a reserving one need try only them (and the head).
    const bool arrival_order = policy.sort == nullptr;
    std::vector<std::size_t>& subset = subset_;
    subset.clear();
    if (arrivals_behind_waiting) {
      if (arrival_order && policy.blocks) return;
      if (arrival_order && policy.reserves) {
        // The newcomers, found from the back of the queue: arriving last,
        // they were queued last (unless an older job came back with them).
        std::size_t found = 0;
        for (std::size_t i = state_.pending.size(); i-- > 1 && found < arrived_.size();) {
          if (std::find(arrived_.begin(), arrived_.end(), state_.pending[i].job) !=
              arrived_.end()) {
            subset.push_back(i);
            ++found;
          }
        }
        subset.push_back(0);
        std::reverse(subset.begin(), subset.end());
      }
    }
    // Reasons cost strings for every waiting job; they are only needed when a
    // job is given up on (and, at the end, for the jobs still waiting).
    auto pass = [&](bool explain) {
      return subset.empty() ? scheduler_.plan(state_, now, explain)
                            : scheduler_.plan_subset(state_, now, subset, explain);
    };
    sched::Plan plan = pass(false);
    bool gives_up = std::any_of(plan.waiting.begin(), plan.waiting.end(),
                                [](const sched::Waiting& w) { return w.never; });
    if (gives_up) plan = pass(true);
    std::vector<std::size_t> remove;
    for (const auto& w : plan.waiting) {
      JobRecord& r = records_[index_of(state_.pending[w.pending_index].job)];
      // Reasons come with explaining passes only; a reason matters when the
      // job is given up on, or still waits at the horizon (explained then).
      if (!w.reason.empty()) r.reason = w.reason;
      if (w.never) {
        r.state = r.first_start ? JobState::kStopped : JobState::kNever;
        r.end = now;
        r.refused_by = rule_index(w.rule);
        ++finished_;
        remove.push_back(w.pending_index);
        if (r.first_start) {
          write_move(index_of(r.job), r.allocation.pool, now, "stopped", r.reason, r.refused_by, 0);
        }
      }
    }
    // Preempted jobs write a checkpoint from now and leave when it is done.
    std::vector<std::uint32_t> preempted;
    for (const auto& p : plan.preemptions) {
      preempted.push_back(index_of(state_.running()[p.running_index].job));
    }
    for (std::size_t k = 0; k < preempted.size(); ++k) {
      JobRecord& r = records_[preempted[k]];
      sched::RunningJob running = state_.running()[r.running_pos];
      if (running.leaving) continue;
      state_.remove_running(r.running_pos);
      if (r.running_pos < state_.running().size()) {
        records_[index_of(state_.running()[r.running_pos].job)].running_pos = r.running_pos;
      }
      r.must_leave_by = now + scheduler_.checkpoint_time(*r.job);
      r.cut_reason = plan.preemptions[k].reason;
      r.cut_rule = 0;
      r.preempted = true;
      running.must_leave_by = r.must_leave_by;
      running.leaving = true;
      r.running_pos = state_.add_running(running);
      ++r.run;  // the events of the run as planned no longer apply
      push(now, EventKind::kCutStart, preempted[k], r.run);
    }
    for (auto& s : plan.starts) {
      std::uint32_t job = index_of(state_.pending[s.pending_index].job);
      JobRecord& r = records_[job];
      if (r.org_slot == sched::kNoOrgSlot) r.org_slot = state_.org_slot(r.job->org);
      state_.allocate(r.org_slot, s.allocation);
      ++r.run;
      r.state = JobState::kRunning;
      r.allocation = s.allocation;
      r.started = now;
      r.expected_end = s.expected_end;
      r.must_leave_by = s.must_leave_by;
      r.cut_reason = s.cut_reason;
      r.cut_rule = rule_index(s.cut_rule);
      r.reason.clear();
      if (!r.first_start) r.first_start = now;
      if (std::find(r.pools.begin(), r.pools.end(), s.allocation.pool) == r.pools.end()) {
        r.pools.push_back(s.allocation.pool);
      }
      r.running_pos =
          state_.add_running(sched::RunningJob{r.job, std::move(s.allocation), now, s.expected_end,
                                               s.must_leave_by, r.remaining, r.org_slot});
      Instant cut = s.must_leave_by == Instant::max()
                        ? Instant::max()
                        : s.must_leave_by - scheduler_.checkpoint_time(*r.job);
      if (s.expected_end <= cut) {
        push(s.expected_end, EventKind::kFinish, job, r.run);
      } else {
        push(cut, EventKind::kCutStart, job, r.run);
      }
      remove.push_back(s.pending_index);
    }
    std::sort(remove.rbegin(), remove.rend());
    for (std::size_t i : remove) {
      state_.pending.erase(state_.pending.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  void record_timeseries(Instant now) {
    for (std::size_t p = 0; p < state_.pools().size(); ++p) {
      const auto& pool = state_.pools()[p];
      std::int32_t busy = pool.pool->gpus() - pool.free_total() - down_gpus_[p];
      if (busy == last_busy_[p]) continue;
      last_busy_[p] = busy;
      const std::int32_t leased = leased_at(now)[p];
      std::string& row = timeseries_out_.row();
      row += now_text(now);
      row += ',';
      row += pool.pool->id.str();
      row += ',';
      append_int(row, busy);
      row += ',';
      append_int(row, leased);
      row += ',';
      append_int(row, static_cast<long long>(state_.pending.size()));
      row += '\n';
      timeseries_out_.end_row();
    }
  }

  // GPUs leased on each pool at `now`: they change only at a lease's start
  // or end, so they are summed again only when `now` has passed one.
  const std::vector<std::int32_t>& leased_at(Instant now) {
    if (leased_.empty() || now < leased_from_ || now >= leased_until_) {
      leased_.assign(state_.pools().size(), 0);
      leased_from_ = Instant::min();
      leased_until_ = Instant::max();
      for (std::size_t i = 0; i < state_.leases().size(); ++i) {
        const sched::Lease& l = state_.leases()[i];
        for (Instant t : {l.start, l.end}) {
          if (t <= now) leased_from_ = std::max(leased_from_, t);
          if (t > now) leased_until_ = std::min(leased_until_, t);
        }
        if (lease_pool_[i] < leased_.size() && l.start <= now && now < l.end) {
          leased_[lease_pool_[i]] += l.gpus;
        }
      }
    }
    return leased_;
  }

  // How far the run is, 0 to 1. The run ends at the horizon or when the last
  // job is done, whichever comes first: the further of the two measures.
  double fraction_done(Instant now) const {
    double by_time = (now - scenario_.start).to_seconds() / scenario_.horizon.to_seconds();
    double by_jobs =
        jobs_.empty() ? 1.0 : static_cast<double>(finished_) / static_cast<double>(jobs_.size());
    return std::clamp(std::max(by_time, by_jobs), 0.0, 1.0);
  }

  void print_progress(Instant now, std::chrono::steady_clock::duration wall) {
    const double done = fraction_done(now);
    double seconds = std::chrono::duration<double>(wall).count();
    double eta = done > 0 ? seconds * (1 - done) / done : 0;
    int filled = static_cast<int>(done * 30);
    std::fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %s  %zu events (%.0f/s)  ETA %.0fs ", filled,
                 "##############################", 30 - filled, "", done * 100,
                 to_iso_date(now).c_str(), event_count_,
                 static_cast<double>(event_count_) / seconds, eta);
  }

  const Scenario& scenario_;
  const catalog::Catalog& catalog_;
  const policy::Engine& engine_;
  const sched::ThroughputModel& throughput_;
  sched::Scheduler scheduler_;
  std::vector<sched::Job> jobs_;
  bool progress_;
  std::function<bool(double)> on_progress_;
  Instant end_;
  sched::ClusterState state_;
  std::vector<JobRecord> records_;
  std::vector<std::uint32_t> arrivals_;  // jobs by arrival time
  std::size_t next_arrival_ = 0;
  fs::path out_;
  internal::OutputFile intervals_out_, timeseries_out_, moves_out_;
  std::vector<RuleId> rule_ids_ = {RuleId()};  // rules that cut or refused jobs; [0]: none
  std::string now_text_;                       // now_text_at_, as written
  Instant now_text_at_ = Instant::min();
  std::vector<double> busy_gpu_hours_;  // per pool, of the closed intervals
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t next_seq_ = 0;
  std::size_t event_count_ = 0;
  std::vector<std::int32_t> last_busy_;
  std::vector<std::uint32_t> lease_pool_;  // the pool of each lease, by index
  std::vector<std::int32_t> leased_;       // by pool, over [leased_from_, leased_until_)
  Instant leased_from_, leased_until_;
  std::vector<std::vector<char>> down_;    // per pool, per node
  std::vector<std::int32_t> down_gpus_;    // per pool
  std::vector<double> mtbf_;               // per pool, hours; 0: none
  std::vector<internal::Random> randoms_;  // one stream per node
  std::vector<std::uint32_t> node_base_;   // first stream of each pool
  std::size_t failures_ = 0;
  std::size_t preemptions_ = 0;
  std::size_t finished_ = 0;  // jobs completed, stopped or given up on
  std::size_t next_progress_check_ = 0;
  std::vector<const sched::Job*> arrived_;              // arrivals of the current batch
  std::vector<std::size_t> subset_;                     // scratch for schedule()
  std::map<std::string, std::size_t> moves_by_reason_;  // counted when the move happens
  std::vector<std::vector<std::pair<Instant, double>>> price_history_;  // per pool
};

Status Simulation::write(const std::vector<std::string>& workload_notes) const {
  const fs::path& out = out_;

  // run.json: the inputs, so that `sim verify` needs nothing else.
  json leases = json::array();
  for (const auto& l : scenario_.leases) {
    leases.push_back({{"id", l.id.str()},
                      {"org", l.org.str()},
                      {"pool", l.pool.str()},
                      {"gpus", l.gpus},
                      {"start", to_iso8601(l.start)},
                      {"end", to_iso8601(l.end)},
                      {"price_per_gpu_hour", to_string(l.price_per_gpu_hour)}});
  }
  json rules = json::array();
  for (const auto& r : scenario_.rules) rules.push_back(r.string());
  json params = json::object();
  for (const auto& [k, v] : scenario_.params) params[k] = v;
  // The rule changes inside the simulated window, for reports to mark.
  json rule_changes = json::array();
  for (const auto& c : engine_.rule_changes()) {
    if (c.at < scenario_.start || c.at > end_) continue;
    rule_changes.push_back({{"at", to_iso8601(c.at)},
                            {"change", c.starts ? "starts" : "ends"},
                            {"rule", c.rule.str()},
                            {"title", c.title},
                            {"pack", c.pack}});
  }
  json run = {{"straits_version", STRAITS_VERSION},
              {"scenario", scenario_.name},
              {"catalog", scenario_.catalog_dir.string()},
              {"rules", rules},
              {"params", params},
              {"start", to_iso8601(scenario_.start)},
              {"horizon_end", to_iso8601(end_)},
              {"seed", scenario_.seed},
              {"reference_chip", scenario_.reference_chip.str()},
              {"policy", std::string(sched::to_string(scenario_.scheduler.policy))},
              {"leases", leases},
              {"rule_changes", rule_changes},
              {"workload_notes", workload_notes}};
  std::ofstream(out / "run.json") << run.dump(2) << "\n";
  STRAITS_TRY(write_workload(out / "workload.jsonl", jobs_));

  internal::OutputFile jobs;
  STRAITS_TRY(jobs.open(out / "jobs.csv"));
  jobs.write(
      "id,org,team,gpus,submit,first_start,end,state,reason,queue_delay_s,jct_s,pools,gpu_hours,"
      "cost,checkpoints,moves,lost_gpu_hours,rule\n");
  for (const auto& r : records_) {
    const auto& j = *r.job;
    bool done = r.state == JobState::kCompleted;
    std::string& row = jobs.row();
    internal::append_csv_cell(row, j.id.str());
    row += ',';
    row += j.org.str();
    row += ',';
    internal::append_csv_cell(row, j.team);
    row += ',';
    append_int(row, j.gpus);
    row += ',';
    append_iso8601(row, j.submit);
    row += ',';
    if (r.first_start) append_iso8601(row, *r.first_start);
    row += ',';
    if (r.end && r.state != JobState::kRunning) append_iso8601(row, *r.end);
    row += ',';
    row += state_name(r.state);
    row += ',';
    internal::append_csv_cell(row, r.reason);
    row += ',';
    if (r.first_start) append_int(row, (*r.first_start - j.submit).whole_seconds());
    row += ',';
    if (done) append_int(row, (*r.end - j.submit).whole_seconds());
    row += ',';
    for (std::size_t k = 0; k < r.pools.size(); ++k) {
      if (k > 0) row += ';';
      row += state_.pools()[r.pools[k]].pool->id.str();
    }
    row += ',';
    append_fixed(row, r.gpu_hours, 6);
    row += ',';
    append_fixed(row, r.cost, 2);
    row += ',';
    append_int(row, r.checkpoints);
    row += ',';
    append_int(row, r.moves);
    row += ',';
    append_fixed(row, r.lost_gpu_hours, 6);
    row += ',';
    row += rule_ids_[r.refused_by].str();
    row += '\n';
    jobs.end_row();
  }
  STRAITS_TRY(jobs.close());

  // summary.json
  std::vector<double> jct, delay;
  std::map<std::string, std::size_t> states, never_reasons;
  double cost = 0, lost = 0;
  Instant last_end = scenario_.start;
  for (const auto& r : records_) {
    ++states[state_name(r.state)];
    cost += r.cost;
    lost += r.lost_gpu_hours;
    if (r.first_start) delay.push_back((*r.first_start - r.job->submit).to_hours());
    if (r.state == JobState::kCompleted) {
      jct.push_back((*r.end - r.job->submit).to_hours());
      last_end = std::max(last_end, *r.end);
    }
    if (r.state == JobState::kNever || r.state == JobState::kStopped) ++never_reasons[r.reason];
  }
  double span_hours = (end_ - scenario_.start).to_hours();
  json pools = json::object(), sites = json::object(), countries = json::object();
  std::map<std::string, std::pair<double, double>> by_site, by_country;
  for (const auto& p : state_.pools()) {
    double used = busy_gpu_hours_[p.index];
    double capacity = p.pool->gpus() * span_hours;
    pools[p.pool->id.str()] = std::round(used / capacity * 1e4) / 1e4;
    by_site[p.site->id.str()].first += used;
    by_site[p.site->id.str()].second += capacity;
    by_country[p.site->country.str()].first += used;
    by_country[p.site->country.str()].second += capacity;
  }
  for (const auto& [k, v] : by_site) sites[k] = std::round(v.first / v.second * 1e4) / 1e4;
  for (const auto& [k, v] : by_country) countries[k] = std::round(v.first / v.second * 1e4) / 1e4;
  json summary = {
      {"scenario", scenario_.name},
      {"jobs", records_.size()},
      {"states", states},
      {"events", event_count_},
      {"jct_hours", distribution(jct)},
      {"queueing_delay_hours", distribution(delay)},
      {"makespan_hours", std::round((last_end - scenario_.start).to_hours() * 1000) / 1000},
      {"utilisation", {{"pools", pools}, {"sites", sites}, {"countries", countries}}},
      {"total_cost", std::round(cost * 100) / 100},
      {"currency", "USD"},
      {"gpu_hours_lost", std::round(lost * 1000) / 1000},
      {"node_failures", failures_},
      {"preemptions", preemptions_},
      {"could_never_run", never_reasons},
      {"moves_by_reason", moves_by_reason_}};
  std::ofstream(out / "summary.json") << summary.dump(2) << "\n";
  return ok();
}

SimSummary Simulation::summary() const {
  SimSummary s;
  s.jobs = records_.size();
  s.events = event_count_;
  double jct = 0;
  for (const auto& r : records_) {
    switch (r.state) {
      case JobState::kCompleted:
        ++s.completed;
        jct += (*r.end - r.job->submit).to_hours();
        break;
      case JobState::kRunning: ++s.running; break;
      case JobState::kStopped: ++s.stopped; break;
      case JobState::kNever: ++s.never; break;
      default: ++s.pending; break;
    }
    s.moves += static_cast<std::size_t>(r.moves);
    s.total_cost += r.cost;
  }
  if (s.completed) s.mean_jct_hours = jct / static_cast<double>(s.completed);
  return s;
}

}  // namespace

Result<SimSummary> run_simulation(const Scenario& scenario, const SimOptions& options,
                                  const fs::path& out_dir) {
  Scenario s = scenario;
  if (options.seed) s.seed = *options.seed;
  auto catalog = catalog::load_catalog(s.catalog_dir);
  if (!catalog) return std::move(catalog).error();
  auto engine = policy::Engine::load(*catalog, s.rules, s.params);
  if (!engine) return std::move(engine).error();
  // Leases name catalog orgs and pools; unpriced leases pay the list price.
  for (std::size_t i = 0; i < s.leases.size(); ++i) {
    auto& l = s.leases[i];
    const catalog::Pool* pool = catalog->find_pool(l.pool);
    if (pool == nullptr) {
      return Error(ErrorCode::kNotFound, "lease " + l.id.str() + ": no pool '" + l.pool.str() + "'",
                   SourceLocation{s.file.string(), 0, 0});
    }
    if (catalog->find_org(l.org) == nullptr) {
      return Error(ErrorCode::kNotFound, "lease " + l.id.str() + ": no org '" + l.org.str() + "'",
                   SourceLocation{s.file.string(), 0, 0});
    }
    if (l.gpus > pool->gpus()) {
      return Error(ErrorCode::kInvalidArgument, "lease " + l.id.str() + ": " +
                                                    std::to_string(l.gpus) +
                                                    " GPUs do not fit pool " + pool->id.str() +
                                                    " (" + std::to_string(pool->gpus()) + ")");
    }
    if (!s.lease_has_price[i]) l.price_per_gpu_hour = pool->price_per_gpu_hour;
  }
  // Capacity is never over-committed: leases of a pool never add up past it.
  for (const auto& a : s.leases) {
    std::int32_t total = 0;
    for (const auto& b : s.leases) {
      if (b.pool == a.pool && b.start <= a.start && a.start < b.end) total += b.gpus;
    }
    if (total > catalog->find_pool(a.pool)->gpus()) {
      return Error(ErrorCode::kConflict, "leases of pool " + a.pool.str() + " add up to " +
                                             std::to_string(total) + " GPUs on " +
                                             to_iso_date(a.start) + ", more than it has");
    }
  }
  for (const auto& change : s.price_changes) {
    if (catalog->find_pool(change.pool) == nullptr) {
      return Error(ErrorCode::kNotFound, "price change: no pool '" + change.pool.str() + "'",
                   SourceLocation{s.file.string(), 0, 0});
    }
  }
  auto throughput = sched::ThroughputModel::make(*catalog, s.reference_chip, s.efficiency);
  if (!throughput) return std::move(throughput).error();

  std::vector<sched::Job> jobs;
  std::vector<std::string> workload_notes;
  if (options.workload) {
    auto read = read_workload(*options.workload, s.start);
    if (!read) return std::move(read).error();
    jobs = std::move(read).value();
  } else if (s.workload_file) {
    auto read = read_workload(*s.workload_file, s.start);
    if (!read) return std::move(read).error();
    jobs = std::move(read).value();
  } else if (s.trace) {
    auto imported = import_trace(*s.trace, s.start);
    if (!imported) return std::move(imported).error();
    workload_notes = import_notes(*s.trace, *imported);
    jobs = std::move(imported->jobs);
  } else if (s.synthetic) {
    GeneratorOptions g = *s.synthetic;
    g.seed = s.seed;
    g.start = s.start;
    jobs = generate_workload(g);
  }
  for (const auto& j : jobs) {
    if (catalog->find_org(j.org) == nullptr) {
      return Error(ErrorCode::kNotFound, "job " + j.id.str() + ": no org '" + j.org.str() + "'");
    }
  }
  Simulation sim(s, *catalog, *engine, *throughput, std::move(jobs), options, out_dir);
  STRAITS_TRY(sim.run());
  STRAITS_TRY(sim.write(workload_notes));

  SimSummary summary = sim.summary();
  summary.workload_notes = std::move(workload_notes);
  return summary;
}

}  // namespace straits::sim
