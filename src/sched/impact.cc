// The impact of a proposed rule set (impact.h). Each (org, pool) lease and
// each (run request, pool) is resolved once under both engines and its
// decisions laid out over [from, horizon) as segments between change points;
// leases, running jobs and the classes of queued jobs then read the segments.
#include "sched/impact.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "sched/internal/scheduler_impl.h"

namespace straits::sched {
namespace {

constexpr Instant kMonday1970 = Instant::from_unix_seconds(4 * 86'400);  // 1970-01-05

// The decisions of one subject under both engines, from `from` to the horizon.
class Scan {
 public:
  struct Segment {
    Instant start;  // to the next segment's start (or the horizon)
    bool in_force_allows = false;
    policy::Outcome proposed = policy::Outcome::kAllow;
    bool hit() const { return in_force_allows && proposed != policy::Outcome::kAllow; }
    bool proposal_allows() const { return proposed == policy::Outcome::kAllow; }
  };

  Scan(const policy::Engine& in_force, const policy::Engine& proposed,
       const policy::Request& request, Instant from, Instant horizon)
      : proposed_(&proposed) {
    auto in_subject = in_force.resolve(request);
    auto pr_subject = proposed.resolve(request);
    if (!in_subject || !pr_subject) return;  // an id outside the catalog: nothing is decided
    subject_ = std::move(*pr_subject);
    for (Instant t = from; t < horizon;) {
      Segment s{t, in_force.evaluate(*in_subject, t) == policy::Outcome::kAllow,
                proposed.evaluate(*subject_, t)};
      if (segments_.empty() || segments_.back().in_force_allows != s.in_force_allows ||
          segments_.back().proposed != s.proposed) {
        segments_.push_back(s);
      }
      t = std::min(in_force.next_change_after(*in_subject, t),
                   proposed.next_change_after(*subject_, t));
    }
  }

  bool resolved() const { return subject_.has_value(); }
  // The segment holding `t` (nullptr before the first or when unresolved).
  const Segment* at(Instant t) const {
    auto it = std::upper_bound(segments_.begin(), segments_.end(), t,
                               [](Instant x, const Segment& s) { return x < s.start; });
    return it == segments_.begin() ? nullptr : &*(it - 1);
  }
  // The first instant in [a, b) the proposal refuses and the rules in force
  // allow; Instant::max() if none.
  Instant first_hit(Instant a, Instant b) const { return first(a, b, &Segment::hit); }
  // The first instant in [a, b) the proposal refuses, whatever the rules in force say.
  Instant first_refusal(Instant a, Instant b) const {
    return first(a, b, [](const Segment& s) { return !s.proposal_allows(); });
  }
  // Why the proposal refuses at `t`.
  Bite bite(Instant t) const {
    Bite b;
    b.at = t;
    const Segment* s = at(t);
    b.outcome = s != nullptr ? s->proposed : policy::Outcome::kDeny;
    b.reason = describe_denial(proposed_->explain(*subject_, t), b.rule);
    return b;
  }
  // The licence the proposal requires at `t` and does not find held (empty if none).
  std::pair<std::string, RuleId> licence_missing(Instant t) const {
    const policy::Decision d = proposed_->explain(*subject_, t);
    for (const auto& m : d.rules) {
      if (m.effect == policy::EffectKind::kRequireLicence && !m.lifted_by) {
        return {m.licence_name, m.id};
      }
    }
    return {};
  }

 private:
  template <typename Pred>
  Instant first(Instant a, Instant b, Pred pred) const {
    for (std::size_t i = 0; i < segments_.size(); ++i) {
      const Instant end = i + 1 < segments_.size() ? segments_[i + 1].start : Instant::max();
      if (end <= a) continue;
      if (segments_[i].start >= b) break;
      if (std::invoke(pred, segments_[i])) return std::max(a, segments_[i].start);
    }
    return Instant::max();
  }

  const policy::Engine* proposed_;
  std::optional<policy::Subject> subject_;
  std::vector<Segment> segments_;
};

// What a run request holds of a job (org, gang, purpose, datasets) and what
// decides the pools it may consider (chips, sites): a job class.
std::string class_key(const Job& job, bool with_datasets) {
  std::string key = job.org.str() + '\x1f' + std::to_string(job.gpus) + '\x1f' + job.purpose;
  key += '\x1e';
  if (with_datasets) {
    for (const auto& d : job.datasets) key += d.str() + '\x1f';
  }
  key += '\x1e';
  for (const auto& c : job.eligible_chips) key += c.str() + '\x1f';
  key += '\x1e';
  for (const auto& s : job.preferences.allow_sites) key += s.str() + '\x1f';
  key += '\x1e';
  for (const auto& s : job.preferences.deny_sites) key += s.str() + '\x1f';
  return key;
}

template <typename List, typename Id>
bool contains(const List& list, const Id& id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

void add_money(std::vector<Money>& totals, Money m) {
  for (Money& t : totals) {
    if (t.currency() == m.currency()) {
      t += m;
      return;
    }
  }
  totals.push_back(m);
}

class ImpactFinder {
 public:
  ImpactFinder(const ClusterState& state, const policy::Engine& in_force,
               const policy::Engine& proposed, Instant from, const ImpactOptions& options)
      : state_(state),
        catalog_(*state.catalog),
        in_force_(in_force),
        proposed_(proposed),
        from_(from),
        options_(options),
        horizon_(from + options.horizon) {
    for (const Lease& l : state.leases()) horizon_ = std::max(horizon_, l.end);
    for (const RunningJob& r : state.running()) {
      if (r.frees_at() != Instant::max()) horizon_ = std::max(horizon_, r.frees_at());
    }
    for (std::uint32_t p = 0; p < catalog_.pools().size(); ++p) {
      pool_index_.emplace(catalog_.pools()[p].id.str(), p);
    }
    for (const Lease& l : state.leases()) {
      auto p = pool_index_.find(l.pool.str());
      if (p != pool_index_.end()) leases_by_org_[l.org.str()].push_back({&l, p->second});
    }
  }

  Impact find() {
    Impact impact;
    impact.from = from_;
    leases(impact);
    running(impact);
    queued(impact);
    impact.datasets = std::move(datasets_);
    totals(impact);
    return impact;
  }

 private:
  struct LeaseAt {
    const Lease* lease;
    std::uint32_t pool;
  };
  // What an org may use: the pools it (or a group above it) owns.
  struct OrgPools {
    std::vector<char> owned;  // by pool
  };

  const OrgPools& org_pools(const OrgId& org) {
    auto [it, inserted] = orgs_.try_emplace(org.str());
    if (!inserted) return it->second;
    it->second.owned.assign(catalog_.pools().size(), 0);
    const auto chain = catalog_.ownership_chain(org);
    for (std::size_t p = 0; p < catalog_.pools().size(); ++p) {
      const auto& owner = catalog_.pools()[p].owner;
      if (!owner) continue;
      for (const catalog::Org* o : chain) it->second.owned[p] |= o->id == *owner ? 1 : 0;
    }
    return it->second;
  }
  const std::vector<LeaseAt>& org_leases(const OrgId& org) const {
    static const std::vector<LeaseAt> none;
    auto it = leases_by_org_.find(org.str());
    return it == leases_by_org_.end() ? none : it->second;
  }

  const Scan& lease_scan(const OrgId& org, std::uint32_t pool) {
    auto key = std::make_pair(org.str(), pool);
    auto it = lease_scans_.find(key);
    if (it != lease_scans_.end()) return it->second;
    policy::Request request(policy::LeaseRequest{org, catalog_.pools()[pool].id, {}, {}, {}});
    return lease_scans_.emplace(key, Scan(in_force_, proposed_, request, from_, horizon_))
        .first->second;
  }
  // `datasets` stands for the job's own (nullptr) or the given list.
  const Scan& run_scan(const Job& job, std::uint32_t pool,
                       const std::vector<DatasetId>* datasets = nullptr) {
    const std::vector<DatasetId>& ds = datasets != nullptr ? *datasets : job.datasets;
    std::string key = job.org.str() + '\x1f' + std::to_string(job.gpus) + '\x1f' + job.purpose +
                      '\x1f' + std::to_string(pool);
    for (const auto& d : ds) key += '\x1e' + d.str();
    auto it = run_scans_.find(key);
    if (it != run_scans_.end()) return it->second;
    policy::JobSpec spec{job.gpus, 0, job.purpose, ds};
    policy::Request request(policy::RunRequest{job.org, catalog_.pools()[pool].id, spec});
    return run_scans_.emplace(key, Scan(in_force_, proposed_, request, from_, horizon_))
        .first->second;
  }

  // The first instant in [a, b) the proposal refuses the job on the pool
  // (its lease, unless owned, or the run) and the rules in force allow both.
  std::pair<Instant, const Scan*> first_hit(const Job& job, std::uint32_t pool, bool owned,
                                            Instant a, Instant b) {
    const Scan& run = run_scan(job, pool);
    std::pair<Instant, const Scan*> hit{run.first_hit(a, b), &run};
    if (!owned) {
      const Scan& lease = lease_scan(job.org, pool);
      const Instant t = lease.first_hit(a, b);
      if (t <= hit.first) hit = {t, &lease};
    }
    return hit;
  }

  // Whether an engine's decisions allow the job on the pool at t.
  bool allows(const Job& job, std::uint32_t pool, bool owned, Instant t, bool proposal) {
    auto ok = [&](const Scan& s) {
      const Scan::Segment* seg = s.at(t);
      return seg != nullptr && (proposal ? seg->proposal_allows() : seg->in_force_allows);
    };
    return ok(run_scan(job, pool)) && (owned || ok(lease_scan(job.org, pool)));
  }

  bool fits_class(const Job& job, std::uint32_t p) const {
    const catalog::Pool& pool = catalog_.pools()[p];
    if (!job.eligible_chips.empty() && !contains(job.eligible_chips, pool.chip)) return false;
    const auto& prefs = job.preferences;
    if (!prefs.allow_sites.empty() && !contains(prefs.allow_sites, pool.site)) return false;
    if (contains(prefs.deny_sites, pool.site)) return false;
    return pool.gpus() >= job.gpus;
  }

  void leases(Impact& impact) {
    for (const Lease& l : state_.leases()) {
      auto p = pool_index_.find(l.pool.str());
      if (p == pool_index_.end() || l.end <= from_) continue;
      const Scan& scan = lease_scan(l.org, p->second);
      const Instant t = scan.first_hit(std::max(from_, l.start), l.end);
      if (t == Instant::max()) continue;
      impact.leases.push_back({l.id, l.org, l.pool, l.gpus, l.end, scan.bite(t)});
      at_risk(t, l.end, l.gpus, p->second, true);
    }
    std::sort(impact.leases.begin(), impact.leases.end(),
              [](const LeaseHit& a, const LeaseHit& b) { return a.lease < b.lease; });
  }

  void running(Impact& impact) {
    for (const RunningJob& r : state_.running()) {
      if (r.leaving || r.job == nullptr) continue;  // already writing its last checkpoint
      const Job& job = *r.job;
      const std::uint32_t p = r.allocation.pool;
      const Instant end = std::min(r.frees_at(), horizon_);
      const bool owned = org_pools(job.org).owned[p] != 0;
      auto [t, scan] = first_hit(job, p, owned, from_, end);
      if (t != Instant::max()) {
        RunningHit hit{
            job.id,         job.org,       catalog_.pools()[p].id,   job.gpus,
            r.expected_end, scan->bite(t), t - checkpoint_time(job), could_go(job, p, t)};
        impact.running.push_back(std::move(hit));
        at_risk(t, end, job.gpus, p, false);
      }
      datasets_of(job, {p}, end);
    }
    std::sort(impact.running.begin(), impact.running.end(),
              [](const RunningHit& a, const RunningHit& b) { return a.job < b.job; });
  }

  Duration checkpoint_time(const Job& job) const {
    if (job.checkpoint_gb <= 0 || options_.checkpoint_bandwidth_gbps <= 0) return Duration();
    return Duration::seconds(static_cast<std::int64_t>(
        std::ceil(job.checkpoint_gb / options_.checkpoint_bandwidth_gbps)));
  }

  // Pools other than `here` the job could move to at t (RunningHit::could_go).
  std::vector<PoolId> could_go(const Job& job, std::uint32_t here, Instant t) {
    std::vector<PoolId> out;
    const OrgPools& mine = org_pools(job.org);
    const std::uint32_t slot = state_.org_slot(job.org);
    std::vector<std::int32_t> entitled(catalog_.pools().size(), 0);
    for (const LeaseAt& l : org_leases(job.org)) {
      if (l.lease->start <= t && t < l.lease->end) entitled[l.pool] += l.lease->gpus;
    }
    for (std::uint32_t p = 0; p < catalog_.pools().size(); ++p) {
      if (p == here || !fits_class(job, p)) continue;
      const bool owned = mine.owned[p] != 0;
      if (!owned && entitled[p] < job.gpus) continue;
      const PoolState& pool = state_.pools()[p];
      std::int32_t room = pool.free_total();
      if (!owned) room = std::min(room, entitled[p] - state_.used(slot, p));
      const NodeView nodes{pool.free().data(), pool.free().size(), pool.free_total(),
                           pool.pool->gpus_per_node, p};
      if (room < job.gpus || !can_fit(nodes, job.gpus) || !allows(job, p, owned, t, true)) continue;
      out.push_back(catalog_.pools()[p].id);
    }
    return out;
  }

  // The pools a queued job of the class may consider: owned, or leased by
  // its org (a lease not ended by `from`, large enough for the gang).
  std::vector<std::pair<std::uint32_t, bool>> candidates(const Job& job) {
    std::vector<std::pair<std::uint32_t, bool>> out;
    const OrgPools& mine = org_pools(job.org);
    std::vector<char> leased(catalog_.pools().size(), 0);
    for (const LeaseAt& l : org_leases(job.org)) {
      if (l.lease->end > from_ && l.lease->gpus >= job.gpus) leased[l.pool] = 1;
    }
    for (std::uint32_t p = 0; p < catalog_.pools().size(); ++p) {
      if ((mine.owned[p] || leased[p]) && fits_class(job, p)) out.emplace_back(p, mine.owned[p]);
    }
    return out;
  }

  struct QueuedClass {
    bool hit = false;
    Instant nowhere_from;
    RuleId rule;
  };

  // Whether a queued job of the class has nowhere to run under the proposal
  // from some instant, while the rules in force let it run somewhere then.
  QueuedClass queued_class(const Job& job,
                           const std::vector<std::pair<std::uint32_t, bool>>& pools) {
    QueuedClass c;
    Instant latest = Instant::min();
    for (auto [p, owned] : pools) {
      Instant t = run_scan(job, p).first_refusal(from_, horizon_);
      if (!owned) t = std::min(t, lease_scan(job.org, p).first_refusal(from_, horizon_));
      if (t == Instant::max()) return c;  // the proposal lets it run there
      latest = std::max(latest, t);
    }
    if (pools.empty()) return c;
    bool in_force_somewhere = false;
    for (auto [p, owned] : pools) {
      if (allows(job, p, owned, latest, true)) return c;
      if (!in_force_somewhere && allows(job, p, owned, latest, false)) {
        in_force_somewhere = true;
        auto [t, scan] = first_hit(job, p, owned, latest, horizon_);
        if (t == latest) c.rule = scan->bite(t).rule;
      }
    }
    c.hit = in_force_somewhere;
    c.nowhere_from = latest;
    return c;
  }

  void queued(Impact& impact) {
    std::unordered_map<std::string, QueuedClass> classes;
    for (const PendingJob& pending : state_.pending) {
      if (pending.job == nullptr) continue;
      const Job& job = *pending.job;
      auto [it, inserted] = classes.try_emplace(class_key(job, true));
      std::vector<std::pair<std::uint32_t, bool>> pools;
      if (inserted || !job.datasets.empty()) pools = candidates(job);
      if (inserted) it->second = queued_class(job, pools);
      if (it->second.hit) {
        impact.queued.push_back({job.id, job.org, it->second.nowhere_from, it->second.rule});
      }
      if (job.datasets.empty()) continue;
      std::vector<std::uint32_t> allowed;  // where the rules in force let it run at `from`
      for (auto [p, owned] : pools) {
        if (allows(job, p, owned, from_, false)) allowed.push_back(p);
      }
      datasets_of(job, allowed, horizon_);
    }
    std::sort(impact.queued.begin(), impact.queued.end(),
              [](const QueuedHit& a, const QueuedHit& b) { return a.job < b.job; });
  }

  // For each dataset of the job on each pool: a run with it alone needs a
  // licence under the proposal (within [from, end)) that the rules in force
  // did not ask for, where a run without it would be allowed.
  void datasets_of(const Job& job, const std::vector<std::uint32_t>& pools, Instant end) {
    static const std::vector<DatasetId> none;
    for (const DatasetId& d : job.datasets) {
      const std::vector<DatasetId> one{d};
      for (std::uint32_t p : pools) {
        const Scan& with = run_scan(job, p, &one);
        const Instant t = with.first_hit(from_, end);
        if (t == Instant::max()) continue;
        const Scan::Segment* seg = with.at(t);
        if (seg == nullptr || seg->proposed != policy::Outcome::kLicenceRequired) continue;
        const Scan::Segment* without = run_scan(job, p, &none).at(t);
        if (without == nullptr || !without->proposal_allows()) continue;
        auto [licence, rule] = with.licence_missing(t);
        if (licence.empty()) continue;
        note_dataset(d, job, p, licence, rule, t);
      }
    }
  }

  void note_dataset(const DatasetId& d, const Job& job, std::uint32_t p, const std::string& licence,
                    const RuleId& rule, Instant t) {
    auto key = std::make_tuple(d.str(), job.org.str(), licence, rule.str());
    auto [it, inserted] = dataset_index_.try_emplace(key, datasets_.size());
    if (inserted) datasets_.push_back({d, job.org, licence, rule, t, {}, {}});
    DatasetHit& hit = datasets_[it->second];
    hit.from = std::min(hit.from, t);
    const PoolId& pool = catalog_.pools()[p].id;
    if (!contains(hit.pools, pool)) hit.pools.push_back(pool);
    if (!contains(hit.jobs, job.id)) hit.jobs.push_back(job.id);
  }

  // GPUs x [a, b) added to the weeks it spans, at the pool's price.
  void at_risk(Instant a, Instant b, int gpus, std::uint32_t pool, bool lease) {
    const Money price = state_.pools()[pool].price;
    for (Instant week = iso_week_start(a); week < b; week += Duration::days(7)) {
      const Instant s = std::max(a, week), e = std::min(b, week + Duration::days(7));
      if (e <= s) continue;
      const double gpu_hours = gpus * (e - s).to_hours();
      WeekAtRisk& w = weeks_[week];
      w.week = week;
      (lease ? w.lease_gpu_hours : w.job_gpu_hours) += gpu_hours;
      add_money(lease ? w.lease_money : w.job_money, price.scaled(gpu_hours));
    }
  }

  void totals(Impact& impact) {
    std::map<std::string, OrgHit> orgs;
    auto org = [&](const OrgId& id) -> OrgHit& {
      OrgHit& o = orgs[id.str()];
      o.org = id;
      return o;
    };
    for (const auto& l : impact.leases) ++org(l.org).leases;
    for (const auto& r : impact.running) ++org(r.org).running;
    for (const auto& q : impact.queued) ++org(q.org).queued;
    std::set<std::pair<std::string, std::string>> datasets;  // (org, dataset)
    for (const auto& d : impact.datasets) {
      if (datasets.emplace(d.org.str(), d.dataset.str()).second) ++org(d.org).datasets;
    }
    for (auto& [id, o] : orgs) impact.orgs.push_back(std::move(o));
    std::sort(impact.datasets.begin(), impact.datasets.end(),
              [](const DatasetHit& a, const DatasetHit& b) {
                return std::tie(a.dataset, a.org, a.licence) <
                       std::tie(b.dataset, b.org, b.licence);
              });
    for (auto& [week, w] : weeks_) impact.weeks.push_back(std::move(w));
  }

  const ClusterState& state_;
  const catalog::Catalog& catalog_;
  const policy::Engine& in_force_;
  const policy::Engine& proposed_;
  const Instant from_;
  const ImpactOptions& options_;
  Instant horizon_;
  std::unordered_map<std::string, std::uint32_t> pool_index_;
  std::unordered_map<std::string, std::vector<LeaseAt>> leases_by_org_;
  std::unordered_map<std::string, OrgPools> orgs_;
  std::map<std::pair<std::string, std::uint32_t>, Scan> lease_scans_;
  std::unordered_map<std::string, Scan> run_scans_;
  std::vector<DatasetHit> datasets_;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::size_t>
      dataset_index_;
  std::map<Instant, WeekAtRisk> weeks_;
};

}  // namespace

Impact rule_change_impact(const ClusterState& state, const policy::Engine& in_force,
                          const policy::Engine& proposed, Instant from,
                          const ImpactOptions& options) {
  return ImpactFinder(state, in_force, proposed, from, options).find();
}

Instant iso_week_start(Instant t) {
  constexpr std::int64_t kWeek = 7LL * 86'400 * 1'000'000;
  std::int64_t since = (t - kMonday1970).count_microseconds();
  std::int64_t weeks = since / kWeek;
  if (since % kWeek < 0) --weeks;  // floor, for instants before 1970-01-05
  return kMonday1970 + Duration::microseconds(weeks * kWeek);
}

std::string iso_week_name(Instant week_start) {
  // The ISO year is the year of the week's Thursday; the week number counts
  // weeks from the one holding that year's first Thursday.
  const Instant thursday = week_start + Duration::days(3);
  const int year = date_of(thursday).year;
  const Instant first_week = iso_week_start(Instant::from_date(year, 1, 4));
  const std::int64_t week =
      (thursday - first_week).count_microseconds() / (7LL * 86'400 * 1'000'000) + 1;
  std::string n = std::to_string(week);
  return std::to_string(year) + "-W" + (week < 10 ? "0" : "") + n;
}

}  // namespace straits::sched
