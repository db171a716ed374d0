// Inside the scheduler: its caches (Scheduler::Impl) and the stages of a
// planning pass, shared by the files that implement them:
//   scheduler.cc                 the driver (plan_subset), queue order, the
//                                pre-filters (window, head of line, quota, job
//                                class), scoring, starts, refusals;
//   internal/filters.cc          the filters of a (job, pool), with reasons;
//   internal/easy_reservations.cc  EASY's reservations (reserve / backfill);
//   internal/preemption.cc       the post-filter: preemption.
// Only sched's own .cc files include it.
#pragma once

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sched/scheduler.h"

namespace straits::sched {

// A policy decision and how long it holds: [from, until).
struct Window {
  Instant from;
  Instant until;
  bool allowed = false;
  std::string reason;      // the rule that denies, when not allowed
  Instant allowed_until;   // when allowed: first instant it stops being allowed
  std::string cut_reason;  // the rule that stops it then
  // The two rules as data: indexes into Impl::rule_ids (0: none), so that
  // the many cached windows stay small.
  std::uint32_t rule = 0, cut_rule = 0;
  bool resolved = false;  // decided at least once
  // The subject is not kept: resolving it again when the window ends costs
  // less than keeping ~350 B in each of the many windows a pass makes.
};

// The denial in words; `rule` gets the rule that denies.
inline std::string describe_denial(const policy::Decision& d, RuleId& rule) {
  for (const auto& m : d.rules) {
    if (m.effect == policy::EffectKind::kForbid) {
      rule = m.id;
      return "rule " + m.id.str() + " forbids it";
    }
  }
  for (const auto& m : d.rules) {
    if (m.effect == policy::EffectKind::kRequireLicence && !m.lifted_by) {
      rule = m.id;
      return "rule " + m.id.str() + " requires licence " + m.licence_name + ", not held";
    }
  }
  rule = RuleId();
  return "denied";
}

// A pool's nodes as a pass sees them: the state's, or the pass's own copy
// once it has given some out.
struct NodeView {
  const std::int32_t* free = nullptr;  // free GPUs per node
  std::size_t nodes = 0;
  std::int32_t free_total = 0;
  std::int32_t per_node = 0;
  std::uint32_t pool = 0;
};

// Best fit of a gang on a pool's nodes: whole free nodes for the gang's
// multiple of a node, the rest (and small jobs) on the node with the least
// room that still fits, to keep whole nodes free for big gangs.
inline std::optional<Allocation> fit(const NodeView& view, std::int32_t gpus) {
  const std::int32_t per_node = view.per_node;
  if (gpus > view.free_total) return std::nullopt;
  Allocation a;
  a.pool = view.pool;
  std::int32_t whole = gpus / per_node;
  std::int32_t rest = gpus % per_node;
  if (whole == 0) {  // most jobs: one node, the tightest that holds it
    std::size_t best = view.nodes;
    std::int32_t best_free = per_node + 1;
    for (std::size_t n = 0; n < view.nodes; ++n) {
      const std::int32_t f = view.free[n];
      if (f >= rest && f < best_free) {
        best = n;
        best_free = f;
        if (f == rest) break;  // nothing fits tighter
      }
    }
    if (best == view.nodes) return std::nullopt;
    a.nodes.emplace_back(static_cast<std::int32_t>(best), rest);
    return a;
  }
  // Whole nodes are the first free ones: every free node below `last_whole`
  // is taken.
  std::size_t last_whole = 0;
  for (std::size_t n = 0; n < view.nodes && whole > 0; ++n) {
    if (view.free[n] == per_node) {
      a.nodes.emplace_back(static_cast<std::int32_t>(n), per_node);
      last_whole = n + 1;
      --whole;
    }
  }
  if (whole > 0) return std::nullopt;
  if (rest > 0) {
    std::size_t best = view.nodes;
    for (std::size_t n = 0; n < view.nodes; ++n) {
      if (view.free[n] < rest || (n < last_whole && view.free[n] == per_node)) continue;
      if (best == view.nodes || view.free[n] < view.free[best]) {
        best = n;
        if (view.free[n] == rest) break;  // nothing fits tighter
      }
    }
    if (best == view.nodes) return std::nullopt;
    a.nodes.emplace_back(static_cast<std::int32_t>(best), rest);
    std::sort(a.nodes.begin(), a.nodes.end());
  }
  return a;
}

// Whether fit() would place the gang, without placing it: as many whole
// free nodes as it has whole nodes, and the rest on one more node.
inline bool can_fit(const NodeView& view, std::int32_t gpus) {
  if (gpus > view.free_total) return false;
  const std::int32_t per_node = view.per_node;
  const std::int32_t whole = gpus / per_node, rest = gpus % per_node;
  std::int32_t full = 0;
  bool partial = false;  // a node not full with room for the rest
  for (std::size_t n = 0; n < view.nodes; ++n) {
    const std::int32_t f = view.free[n];
    if (f == per_node) {
      ++full;
    } else if (rest > 0 && f >= rest) {
      partial = true;
    }
  }
  if (full < whole) return false;
  return rest == 0 || full > whole || partial;
}

// Policy decisions by pool, created on first use: a pass consults few of a
// large fleet's pools for any one subject, and a Window is large.
class Windows {
 public:
  // The pool's window, created (undecided) if there is none yet.
  Window& at(std::size_t pools, std::uint32_t pool) {
    if (index_.empty()) index_.assign(pools, kNone);
    std::uint32_t& i = index_[pool];
    if (i == kNone) {
      i = static_cast<std::uint32_t>(windows_.size());
      windows_.emplace_back();
    }
    return windows_[i];
  }
  // The pool's window; an undecided one if there is none.
  const Window& at(std::uint32_t pool) const {
    static const Window undecided;
    if (pool >= index_.size() || index_[pool] == kNone) return undecided;
    return windows_[index_[pool]];
  }

 private:
  static constexpr std::uint32_t kNone = 0xffffffffu;
  std::vector<std::uint32_t> index_;  // by pool, into windows_
  std::deque<Window> windows_;        // (references stay valid as it grows)
};

inline std::string gpus_text(std::int32_t n) {
  return std::to_string(n) + (n == 1 ? " GPU" : " GPUs");
}

// it are made for the pools that need them only: the one chosen, and those
// with a reservation to spare.
struct Candidate {
  std::uint32_t pool = 0;
  Instant expected_end;
  Instant must_leave_by = Instant::max();
  // What cuts it (when must_leave_by is not Instant::max()): a rule's text,
  // or else, on a leased pool, the lease's end.
  const std::string* cut_text = nullptr;
  const Lease* lease = nullptr;
  std::uint32_t cut_rule = 0;  // in Impl::rule_ids
  // Score: smaller is better, compared in this order.
  std::size_t site_rank = 0;
  std::int64_t price = 0;
  double neg_speed = 0;
  double cost = 0;  // price x GPUs x run time, for the cost policy
};

struct Scheduler::Impl {
  const catalog::Catalog& catalog;
  const policy::Engine& engine;
  const ThroughputModel& throughput;
  const std::size_t pool_count;
  std::vector<const catalog::Chip*> chips;  // of each pool

  Impl(const catalog::Catalog& c, const policy::Engine& e, const ThroughputModel& t)
      : catalog(c), engine(e), throughput(t), pool_count(c.pools().size()) {
    for (const auto& p : c.pools()) chips.push_back(c.find_chip(p.chip));
    for (std::uint32_t p = 0; p < pool_count; ++p) pool_index.emplace(c.pools()[p].id.str(), p);
    for (const auto& known : c.orgs()) index_of_org(known.id);
    for (const auto& p : c.pools()) {
      auto [it, inserted] =
          site_number.emplace(p.site.str(), static_cast<std::uint32_t>(site_number.size()));
      pool_site.push_back(it->second);
    }
  }

  // Each pool's site as a number (sites numbered by their ids).
  std::unordered_map<std::string, std::uint32_t> site_number;
  std::vector<std::uint32_t> pool_site;  // by pool

  // Rules that denied or cut something, by index; [0] is none. Few rules
  // ever do: a search of the list is enough.
  std::vector<RuleId> rule_ids{RuleId()};
  std::uint32_t rule_index(const RuleId& rule) {
    if (rule.empty()) return 0;
    for (std::uint32_t i = 1; i < rule_ids.size(); ++i) {
      if (rule_ids[i] == rule) return i;
    }
    rule_ids.push_back(rule);
    return static_cast<std::uint32_t>(rule_ids.size() - 1);
  }

  // The decision for a subject at `now`, from the cache while it holds.
  template <typename MakeRequest>
  const Window& decision(Window& w, Instant now, MakeRequest make_request) {
    if (w.resolved && w.from <= now && now < w.until) return w;
    // A subject that does not resolve never will (the catalog is fixed): its
    // window holds forever, so this resolves only subjects that did before.
    auto resolved = engine.resolve(make_request());
    if (!resolved) {
      w.resolved = true;
      w.allowed = false;
      w.reason = resolved.error().message();
      w.from = Instant::min();
      w.until = Instant::max();
      return w;
    }
    const policy::Subject& subject = *resolved;
    w.resolved = true;
    w.from = now;
    w.until = engine.next_change_after(subject, now);
    w.allowed = engine.evaluate(subject, now) == policy::Outcome::kAllow;
    w.reason.clear();
    w.cut_reason.clear();
    w.rule = 0;
    w.cut_rule = 0;
    w.allowed_until = Instant::max();
    if (!w.allowed) {
      RuleId rule;
      w.reason = describe_denial(engine.explain(subject, now), rule);
      w.rule = rule_index(rule);
    } else {
      // Walk the changes ahead to the first at which it stops being allowed.
      for (Instant t = w.until; t != Instant::max(); t = engine.next_change_after(subject, t)) {
        if (engine.evaluate(subject, t) != policy::Outcome::kAllow) {
          w.allowed_until = t;
          RuleId rule;
          w.cut_reason = describe_denial(engine.explain(subject, t), rule);
          w.cut_rule = rule_index(rule);
          break;
        }
      }
    }
    return w;
  }

  // ---- Orgs: catalog orgs by their index, then any other org a job names.
  struct OrgInfo {
    OrgId id;
    bool ready = false;
    std::vector<char> owned;  // by pool: the org, or an org above it, owns it
    Windows lease;            // by pool: may the org lease it
  };
  std::vector<OrgInfo> orgs;
  std::unordered_map<std::string, std::uint32_t> org_index;
  std::unordered_map<std::string, std::uint32_t> pool_index;

  std::uint32_t index_of_org(const OrgId& id) {
    auto [it, inserted] = org_index.emplace(id.str(), static_cast<std::uint32_t>(orgs.size()));
    if (inserted) orgs.emplace_back().id = id;
    return it->second;
  }

  OrgInfo& org(std::uint32_t index) {
    OrgInfo& info = orgs[index];
    if (!info.ready) prepare(info, index);
    return info;
  }

  // Fills in an org's OrgInfo the first time it is needed.
  void prepare(OrgInfo& info, std::uint32_t index) {
    info.ready = true;
    info.owned.assign(pool_count, 0);
    if (index >= catalog.orgs().size()) return;
    auto chain = catalog.ownership_chain(info.id);
    for (std::size_t p = 0; p < pool_count; ++p) {
      const auto& owner = catalog.pools()[p].owner;
      if (!owner) continue;
      for (const catalog::Org* o : chain) info.owned[p] |= o->id == *owner ? 1 : 0;
    }
  }

  // GPUs the org holds on a pool, as the state says.
  std::int32_t used(const ClusterState& state, std::uint32_t org, std::uint32_t pool) const {
    return org < catalog.orgs().size() ? state.used(org, pool) : 0;
  }

  // ---- Leases: what an org's leases give it on each pool, valid over
  // [ent_from, ent_until) for the leases they were computed from.
  struct Entitlement {
    std::int32_t gpus = 0;  // active leases, summed
    Instant end;            // the latest end among them
    const Lease* latest = nullptr;
    std::int32_t future_max = 0;  // the largest lease not yet ended
  };
  std::vector<Entitlement> ent;  // [org * pools + pool]
  Instant ent_from = Instant::max(), ent_until = Instant::min();
  const Lease* ent_leases = nullptr;
  std::size_t ent_lease_count = 0, ent_org_count = 0;
  std::uint64_t ent_revision = 0;
  std::uint64_t ent_version = 0;  // counts recomputations

  void entitlements(const ClusterState& state, Instant now) {
    // Orgs named by leases first, so that the org count below is final.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> resolved;  // (org, pool) per lease
    const bool same_leases =
        ent_leases == state.leases().data() && ent_lease_count == state.leases().size() &&
        ent_revision == state.leases_revision() && ent_org_count == orgs.size();
    if (same_leases && ent_from <= now && now < ent_until) return;
    resolved.reserve(state.leases().size());
    for (const Lease& l : state.leases()) {
      auto found = pool_index.find(l.pool.str());
      resolved.emplace_back(index_of_org(l.org), found == pool_index.end()
                                                     ? std::numeric_limits<std::uint32_t>::max()
                                                     : found->second);
    }
    ent.assign(orgs.size() * pool_count, Entitlement{});
    ent_from = Instant::min();
    ent_until = Instant::max();
    for (std::size_t i = 0; i < state.leases().size(); ++i) {
      const Lease& l = state.leases()[i];
      for (Instant t : {l.start, l.end}) {
        if (t <= now) ent_from = std::max(ent_from, t);
        if (t > now) ent_until = std::min(ent_until, t);
      }
      auto [o, p] = resolved[i];
      if (p == std::numeric_limits<std::uint32_t>::max()) continue;
      Entitlement& e = ent[static_cast<std::size_t>(o) * pool_count + p];
      if (l.end > now) e.future_max = std::max(e.future_max, l.gpus);
      if (l.start <= now && now < l.end) {
        e.gpus += l.gpus;
        if (e.latest == nullptr || l.end > e.end) {
          e.end = l.end;
          e.latest = &l;
        }
      }
    }
    ent_leases = state.leases().data();
    ent_lease_count = state.leases().size();
    ent_revision = state.leases_revision();
    ent_org_count = orgs.size();
    ++ent_version;
  }

  // ---- EASY reservations. Each pool holds at most one, for the first
  // blocked job (in queue order) whose soonest start, among the pools it
  // waits on that hold none yet, is there: a big gang waiting on its own
  // lease is not starved because another org's job holds the reservation
  // elsewhere. Later jobs may start on a reserved pool if they end before
  // the reserved start or leave room for the gang then (EASY's extra nodes).
  // Reservations are found lazily: a blocked job claims the pools it could
  // start on but for busy GPUs, and claims are settled only once a later job
  // could start on a claimed pool, since only such a job could delay it,
  // and then only as far as the last claim on that pool: a claim's
  // reservation depends on the claims before it, never on those after.
  // Most passes start nobody, and search nothing.
  struct Claim {
    const Job* job = nullptr;
    std::uint32_t klass = 0, org = 0;
    std::size_t first = 0, count = 0;  // its pools in `claim_pools`
  };
  std::vector<Claim> claims;  // in queue order; the first `settled` are settled
  std::size_t settled = 0;
  std::vector<std::uint32_t> claim_pools;
  // By pool: 1 + the index in `claims` of the last claim on it (0: none).
  // It waits on a claim not yet settled if that is above `settled`.
  std::vector<std::size_t> claimed;
  struct Reservation {
    bool held = false;
    Instant shadow;  // when the job could start
    const Job* job = nullptr;
    std::uint32_t klass = 0;  // of `job`
    std::uint32_t org = 0;
    bool owned = false;
    std::int32_t entitled = 0;
    // At `shadow`: free GPUs per node and the org's GPUs in use, less what
    // jobs started since and still running then take.
    std::vector<std::int32_t> free;
    std::int32_t free_total = 0;
    std::int32_t in_use = 0;
  };
  std::vector<Reservation> reservations;  // by pool, for this pass

  // What classes with the same chips, sites allowed and denied, and model
  // share: the pools that pass those filters and the speed there.
  struct PoolSet {
    std::vector<std::uint32_t> pools;  // pass the chip and site filters, ascending
    std::vector<std::uint32_t> slot;   // by pool: its place in `pools`
    std::vector<double> speed;         // by place in `pools`, relative to the reference chip
  };
  // Run decisions, shared by the classes whose run requests are alike
  // (org, gang, purpose, datasets): by pool, may such a job run there.
  struct RunWindows {
    Windows windows;
  };
  // The pools of a PoolSet an org owns or has a lease on (now or ahead),
  // for the entitlements of `version`.
  struct Usable {
    std::vector<std::uint32_t> pools;
    std::uint64_t version = 0;
  };
  std::map<std::pair<std::uint32_t, const PoolSet*>, Usable> usable_index;  // by (org, set)
  // ---- Job classes: jobs that share an org, a gang size, a purpose,
  // datasets, chips, site preferences and a model share the pools they may
  // consider, their speed there and their policy decisions.
  struct JobClass {
    std::uint32_t org = 0;
    const PoolSet* set = nullptr;
    RunWindows* run = nullptr;
    // By place in set->pools: place of the pool's site in the site order
    // (empty: no site order, every rank 0).
    std::vector<std::size_t> ranks;
    const std::vector<std::uint32_t>& pools() const { return set->pools; }
    double speed(std::uint32_t p) const { return set->speed[set->slot[p]]; }
    std::size_t site_rank(std::uint32_t p) const { return ranks.empty() ? 0 : ranks[set->slot[p]]; }
    // `pools` the org owns or has a lease on (now or ahead): the only ones
    // worth a look; shared by the org's classes with the same pool set.
    // usable_pools() was last asked for the entitlements of `usable_version`.
    Usable* usable = nullptr;
    std::uint64_t usable_version = 0;
    std::int32_t gpus = 0;  // of its gang
    // A pass's finding that no job of the class could start. It holds in a
    // later pass while what it rested on stays: the entitlements, the
    // decisions (until `until`), and on each pool it was short of GPUs on,
    // the shortage. A pool is still short while the room the org has there
    // is below the gang, or, where there was room but no node arrangement,
    // while no GPUs were freed there (its release revision: jobs started
    // there only take more). A job ending on a pool the class waits on for
    // 64 GPUs thus leaves the class alone unless 64 are free now.
    struct Hopeless {
      bool valid = false;
      bool could_ever = false;
      bool claim_whole = false;  // `claim` lists every pool it waits on for GPUs
      std::uint64_t ent_version = 0;
      Instant until;
      struct Short {
        std::uint32_t pool = 0;
        // The pool's release revision when it was found short, or 0 if the
        // pass had given out some of it already (the pass's view of its
        // nodes was not the state's).
        std::uint64_t release_revision = 0;
        // The pool's revision when last found still short: while it stays,
        // nothing there changed (see still_hopeless).
        std::uint64_t checked_revision = 0;
      };
      std::vector<Short> short_of;
      // The soonest a run started on one of them must leave (a lease end, a
      // rule), found when first needed (see cut_short).
      std::optional<Instant> earliest_cut;
      // EASY: pools where it could have started but for the pool's
      // reservation, which it would have delayed. It still would while the
      // pool is as it was (its revision) and the pass reserves it alike (for
      // the same class from the same instant), for a job of the class that
      // would run past that instant; a shorter one is tried in full.
      struct Blocked {
        std::uint32_t pool = 0;
        std::uint64_t revision = 0;
        std::uint32_t reserved_for = 0;  // class
        Instant shadow;
      };
      std::vector<Blocked> blocked;
    } hopeless;
    // Where its last job found hopeless waits for GPUs: its EASY claim.
    std::vector<std::uint32_t> claim;
    // With explain: the last job of the class tried in full in this pass,
    // when no pool could take it and nothing of its own refused it. Another
    // job of the class waits alike, for the same reason, while none of the
    // class's pools has given out GPUs since (`take_seq`), unless something of
    // its own would refuse it (a price ceiling, a deadline, a cut ahead it
    // could not checkpoint before, at one of the pools it lacked GPUs on).
    struct Explained {
      std::uint64_t pass = 0;  // 0: none
      std::uint64_t take_seq = 0, ent_version = 0;
      std::string reason;
      std::uint32_t rule = 0;  // in rule_ids
      bool could_ever = false;
      std::vector<std::uint32_t> claim;     // its job_claim
      std::vector<std::uint32_t> short_of;  // the pools it lacked GPUs on
    } explained;
  };
  std::vector<JobClass> classes;
  // What makes a class: the fields of its jobs that the keys below hold.
  // Jobs are classified by a hash of these fields, compared in full with
  // the classes of that hash (every job of a million-job run is classified
  // once; no key text is built for a class seen before).
  struct ClassKey {
    OrgId org;
    std::int32_t gpus = 0;
    std::string purpose, model;
    std::vector<DatasetId> datasets;
    std::vector<ChipId> chips;
    std::vector<SiteId> allow_sites, deny_sites, site_order;
    std::uint32_t next = kNoClass;  // the next class with the same hash
  };
  static constexpr std::uint32_t kNoClass = 0xffffffffu;
  std::vector<ClassKey> class_keys;                              // by class
  std::unordered_map<std::uint64_t, std::uint32_t> class_index;  // hash -> first class

  static void hash_bytes(std::string_view text, std::uint64_t& h) {
    for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ULL;  // FNV-1a
    h = (h ^ 0xffu) * 0x100000001b3ULL;  // ends the field (same_class decides; this spreads)
  }
  template <typename List>
  static void hash_list(const List& list, std::uint64_t& h) {
    h = (h ^ (0x100u + list.size())) * 0x100000001b3ULL;
    for (const auto& x : list) hash_bytes(x.str(), h);
  }
  static std::uint64_t class_hash(const Job& job) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    hash_bytes(job.org.str(), h);
    h = (h ^ static_cast<std::uint32_t>(job.gpus)) * 0x100000001b3ULL;
    hash_bytes(job.purpose, h);
    hash_list(job.datasets, h);
    hash_bytes(job.model, h);
    hash_list(job.eligible_chips, h);
    hash_list(job.preferences.allow_sites, h);
    hash_list(job.preferences.deny_sites, h);
    hash_list(job.preferences.site_order, h);
    return h;
  }
  static bool same_class(const ClassKey& k, const Job& job) {
    return k.gpus == job.gpus && k.org == job.org && k.purpose == job.purpose &&
           k.model == job.model && k.datasets == job.datasets && k.chips == job.eligible_chips &&
           k.allow_sites == job.preferences.allow_sites &&
           k.deny_sites == job.preferences.deny_sites && k.site_order == job.preferences.site_order;
  }

  // Keys of the pool sets and run decisions classes share (built once per
  // class), looked up by string_view.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static void add_key(const std::string& s, std::string& key) { key.append(s).push_back('\x1f'); }
  static void add_key_number(std::size_t n, std::string& key) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    key.append(digits, end);
  }
  template <typename List>
  static void add_key_list(const List& list, std::string& key) {
    add_key_number(list.size(), key);
    key.push_back('\x1e');
    for (const auto& x : list) add_key(x.str(), key);
  }
  // What a run request holds of the job: org, gang, purpose, datasets.
  static void run_key(const Job& job, std::string& key) {
    add_key(job.org.str(), key);
    add_key_number(static_cast<std::size_t>(job.gpus), key);
    key.push_back('\x1f');
    add_key(job.purpose, key);
    add_key_list(job.datasets, key);
  }
  // What the pools a job considers, and its speed there, depend on.
  static void pool_set_key(const Job& job, std::string& key) {
    add_key(job.model, key);
    add_key_list(job.eligible_chips, key);
    add_key_list(job.preferences.allow_sites, key);
    add_key_list(job.preferences.deny_sites, key);
  }
  JobClass& class_of(const PendingJob& pending) {
    if (pending.scheduler_class != 0 && pending.scheduler_class <= classes.size()) {
      return classes[pending.scheduler_class - 1];
    }
    return classify(pending);
  }

  JobClass& classify(const PendingJob& pending) {
    const Job& job = *pending.job;
    const std::uint64_t hash = class_hash(job);
    std::uint32_t* link = &class_index.try_emplace(hash, kNoClass)
                               .first->second;  // where a new class of this hash goes
    for (std::uint32_t k = *link; k != kNoClass; k = class_keys[k].next) {
      if (same_class(class_keys[k], job)) {
        pending.scheduler_class = k + 1;
        return classes[k];
      }
      link = &class_keys[k].next;
    }
    const auto index = static_cast<std::uint32_t>(classes.size());
    *link = index;  // (before class_keys grows: `link` may point into it)
    class_keys.push_back(ClassKey{job.org, job.gpus, job.purpose, job.model, job.datasets,
                                  job.eligible_chips, job.preferences.allow_sites,
                                  job.preferences.deny_sites, job.preferences.site_order,
                                  kNoClass});
    JobClass c;
    c.org = index_of_org(job.org);
    c.gpus = job.gpus;
    c.set = &pool_set(job);
    c.run = &run_windows(job);
    c.usable = &usable_index[{c.org, c.set}];
    const auto& site_order = job.preferences.site_order;
    if (!site_order.empty()) {
      // A pool's rank: the place of its site in the order (its first
      // mention), or the order's length if it is not there.
      std::vector<std::size_t> rank_of_site(site_number.size(), site_order.size());
      for (std::size_t k = site_order.size(); k-- > 0;) {
        auto found = site_number.find(site_order[k].str());
        if (found != site_number.end()) rank_of_site[found->second] = k;
      }
      c.ranks.reserve(c.set->pools.size());
      for (std::uint32_t p : c.set->pools) c.ranks.push_back(rank_of_site[pool_site[p]]);
    }
    classes.push_back(std::move(c));
    pending.scheduler_class = index + 1;
    return classes[index];
  }

  // The pools a job may consider (chips, sites allowed and denied) and its
  // speed on them, shared by the classes alike in those.
  std::unordered_map<std::string, PoolSet*, KeyHash, std::equal_to<>> pool_set_index;
  std::deque<PoolSet> pool_sets;
  std::string set_key;
  const PoolSet& pool_set(const Job& job) {
    set_key.clear();
    pool_set_key(job, set_key);
    auto it = pool_set_index.find(std::string_view(set_key));
    if (it != pool_set_index.end()) return *it->second;
    PoolSet& set = pool_sets.emplace_back();
    pool_set_index.emplace(set_key, &set);
    const auto& prefs = job.preferences;
    auto has = [](const auto& list, const auto& x) {
      return std::find(list.begin(), list.end(), x) != list.end();
    };
    set.slot.assign(pool_count, 0);
    for (std::uint32_t p = 0; p < pool_count; ++p) {
      const catalog::Pool& cp = catalog.pools()[p];
      if (!job.eligible_chips.empty() && !has(job.eligible_chips, cp.chip)) continue;
      if (has(prefs.deny_sites, cp.site)) continue;
      if (!prefs.allow_sites.empty() && !has(prefs.allow_sites, cp.site)) continue;
      if (chips[p] == nullptr) continue;
      set.slot[p] = static_cast<std::uint32_t>(set.pools.size());
      set.pools.push_back(p);
      set.speed.push_back(throughput.speed(job, *chips[p]));
    }
    return set;
  }

  // Run decisions, shared by the classes whose run requests are alike.
  std::unordered_map<std::string, RunWindows*, KeyHash, std::equal_to<>> run_windows_index;
  std::deque<RunWindows> run_windows_list;
  RunWindows& run_windows(const Job& job) {
    set_key.clear();
    run_key(job, set_key);
    auto it = run_windows_index.find(std::string_view(set_key));
    if (it != run_windows_index.end()) return *it->second;
    RunWindows& windows = run_windows_list.emplace_back();
    run_windows_index.emplace(set_key, &windows);
    return windows;
  }

  const std::vector<std::uint32_t>& usable_pools(JobClass& c) {
    c.usable_version = ent_version;
    Usable& u = *c.usable;
    if (u.version != ent_version) {
      u.version = ent_version;
      u.pools.clear();
      const OrgInfo& o = org(c.org);
      const Entitlement* e = &ent[static_cast<std::size_t>(c.org) * pool_count];
      for (std::uint32_t p : c.pools()) {
        if (o.owned[p] || e[p].gpus > 0 || e[p].future_max > 0) u.pools.push_back(p);
      }
    }
    return u.pools;
  }

  // Whether the class's Hopeless finding still holds now.
  bool still_hopeless(JobClass& c, const ClusterState& state, Instant now, bool need_claim) {
    auto& h = c.hopeless;
    if (!h.valid || h.ent_version != ent_version || c.usable_version != ent_version ||
        now >= h.until || (need_claim && !h.claim_whole)) {
      return false;
    }
    const Entitlement* e = &ent[static_cast<std::size_t>(c.org) * pool_count];
    const OrgInfo& o = org(c.org);
    for (auto& s : h.short_of) {
      const std::uint32_t p = s.pool;
      const std::uint64_t revision = state.pools()[p].revision();
      if (revision == s.checked_revision && !node_copied[p]) continue;
      const std::int32_t free = free_now(state, p);
      const std::int32_t room =
          o.owned[p] ? free
                     : std::min(free, e[p].gpus - used(state, c.org, p) - added_by(c.org, p));
      if (room >= c.gpus && (s.release_revision == 0 || node_copied[p] ||
                             state.pools()[p].release_revision() != s.release_revision)) {
        return false;
      }
      if (!node_copied[p]) s.checked_revision = revision;
    }
    return true;
  }

  const Window& run_decision(const Job& job, JobClass& c, std::uint32_t pool, Instant now) {
    return decision(c.run->windows.at(pool_count, pool), now, [&] {
      policy::JobSpec spec{job.gpus, 0, job.purpose, job.datasets};
      return policy::Request(policy::RunRequest{job.org, catalog.pools()[pool].id, spec});
    });
  }

  const Window& lease_decision(const Job& job, OrgInfo& o, std::uint32_t pool, Instant now) {
    return decision(o.lease.at(pool_count, pool), now, [&] {
      return policy::Request(policy::LeaseRequest{job.org, catalog.pools()[pool].id, {}, {}, {}});
    });
  }

  bool cut_short(const Scheduler& scheduler, const PendingJob& pending, JobClass& klass,
                 Instant now) const;
  // When a run of the class started now on pool p must leave it (the lease's
  // end, a rule that stops allowing it), as the cached decisions say.
  Instant cut_at(const JobClass& klass, std::uint32_t p) const {
    const OrgInfo& o = orgs[klass.org];
    Instant cut = klass.run->windows.at(p).allowed_until;
    if (!o.owned[p]) {
      const Entitlement& e = ent[static_cast<std::size_t>(klass.org) * pool_count + p];
      cut = std::min({cut, e.end, o.lease.at(p).allowed_until});
    }
    return cut;
  }
  bool still_blocked(const Scheduler& scheduler, const ClusterState& state,
                     const PendingJob& pending, const JobClass& klass, Instant now);
  std::vector<JobClass::Hopeless::Blocked> blocked_at;  // of the job being tried

  // ---- A pass's working copies: what it has given out so far.
  std::vector<std::int32_t> free_total;              // by pool
  std::vector<std::vector<std::int32_t>> node_free;  // by pool, copied when first changed
  std::vector<char> node_copied;                     // and free_total with it
  std::vector<std::uint32_t> touched;  // pools whose pass state this pass set (see begin_pass)
  std::vector<std::int32_t> added;     // GPUs given out, [org * pools + pool]
  std::vector<std::size_t> added_touched;
  // Recent searches' answers per pool: when a gang of a class fits (after
  // how many of the pool's running jobs end), if ever. Each holds while the
  // pool's revision and the entitlements stay, for a pass that has not yet
  // given out any of the pool.
  // Kept in kSearchSlots slots a pool, by class (a class's answer replaces
  // that of another class in its slot): one look finds it.
  struct Search {
    std::uint32_t klass = 0;
    std::uint64_t revision = 0, ent_version = 0;  // revision 0: empty slot
    std::optional<Instant> when;
    std::size_t ended = 0;
  };
  static constexpr std::size_t kSearchSlots = 32;
  std::vector<Search> searches;                     // [pool * kSearchSlots + klass % kSearchSlots]
  std::vector<std::int32_t> future_free;            // scratch for the reservation's search
  std::vector<std::int32_t> level_count;            // and its nodes by GPUs free
  std::vector<std::uint32_t> job_claim;             // the claim of the job being tried
  std::vector<char> hopeless_in_pass;               // by class, see plan_subset
  std::vector<char> claimed_for_class;              // by class, see plan_subset
  std::vector<JobClass::Hopeless::Short> short_of;  // of the job being tried
  std::vector<std::size_t> order;                   // of the jobs to try
  std::vector<char> in_window;                      // by pending job, see plan_subset

  // What the org of a claim may hold on a pool, and holds, as the pass sees it.
  struct Room {
    bool owned = false;
    std::int32_t entitled = 0, in_use = 0;
  };
  Room room_of(const ClusterState& state, std::uint32_t who, std::uint32_t p) {
    Room r;
    r.owned = org(who).owned[p] != 0;
    r.entitled = r.owned ? state.pools()[p].pool->gpus()
                         : ent[static_cast<std::size_t>(who) * pool_count + p].gpus;
    r.in_use = used(state, who, p) + added_by(who, p);
    return r;
  }

  // Gives back, in a view of a pool, what a running job holds; `in_use`
  // counts the GPUs of org `who`. With `levels`, keeps its count of nodes
  // by free GPUs up to date too.
  void release(const RunningJob& r, std::uint32_t who, std::vector<std::int32_t>& free,
               std::int32_t& total, std::int32_t& in_use,
               std::vector<std::int32_t>* levels = nullptr) const {
    const bool same_org = r.org_slot == who;  // (catalog orgs: the same indexes)
    for (const auto& [node, gpus] : r.allocation.nodes) {
      std::int32_t& f = free[static_cast<std::size_t>(node)];
      if (levels != nullptr) --(*levels)[static_cast<std::size_t>(f)];
      f += gpus;
      if (levels != nullptr) ++(*levels)[static_cast<std::size_t>(f)];
      total += gpus;
      if (same_org) in_use -= gpus;
    }
  }

  // ---- EASY reservations (easy_reservations.cc).
  // When the claim's gang could start on pool p: release running jobs in
  // order of their end until it fits. Also says after how many.
  Search search(const ClusterState& state, const Claim& claim, std::uint32_t p);
  // Settles the claims in queue order: each gets a reservation on the pool,
  // among those it claimed that hold none yet, where it could start soonest.
  void settle_claims(const ClusterState& state, std::size_t upto);
  // Whether a claim was made: none if every pool of it is reserved already.
  bool add_claim(const Job& job, std::uint32_t klass, std::uint32_t who,
                 const std::vector<std::uint32_t>& pools);
  // Whether a job starting now on `allocation`'s pool, running until `end`,
  // leaves the pool's reservation whole.
  bool spares_reservation(const Allocation& allocation, std::uint32_t who, std::int32_t gpus,
                          Instant end);
  // A job started: what it holds at a reservation's start is not free then.
  void hold_against_reservation(const Allocation& allocation, std::uint32_t who, std::int32_t gpus,
                                Instant end);

  // Most passes touch few pools, and a pass is a cheap thing to start:
  // what the last one set is cleared pool by pool (`touched`).
  void begin_pass() {
    if (node_copied.size() != pool_count) {
      free_total.resize(pool_count);
      node_free.resize(pool_count);
      node_copied.assign(pool_count, 0);
      searches.resize(pool_count * kSearchSlots);
      reservations.resize(pool_count);
      claimed.assign(pool_count, 0);
      holds.assign(pool_count, Hold{});
      pool_taken.assign(pool_count, 0);
    }
    ++pass_seq;
    for (std::uint32_t p : touched) {
      node_copied[p] = 0;
      reservations[p].held = false;
      claimed[p] = 0;
      holds[p] = Hold{};
    }
    touched.clear();
    for (std::uint32_t p : claim_pools) claimed[p] = 0;
    for (std::uint32_t at : chosen_list) chosen[at] = 0;  // (not per running job: every pass)
    chosen_list.clear();
    claims.clear();
    settled = 0;
    claim_pools.clear();
    for (std::size_t i : added_touched) added[i] = 0;
    added_touched.clear();
    added.resize(orgs.size() * pool_count, 0);
  }

  // Free GPUs on pool p as the pass sees them.
  std::int32_t free_now(const ClusterState& state, std::uint32_t p) const {
    return node_copied[p] ? free_total[p] : state.pools()[p].free_total();
  }

  NodeView view(const ClusterState& state, std::uint32_t p) const {
    const PoolState& pool = state.pools()[p];
    return NodeView{node_copied[p] ? node_free[p].data() : pool.free().data(), pool.free().size(),
                    free_now(state, p), pool.pool->gpus_per_node, p};
  }

  // What the pass's queue policy asks of it (see plan_subset).
  bool meets_deadlines = false;  // scoring by cost: no start past a job's deadline

  // Counts passes, and GPUs given out in them: by pool, the count when it
  // last gave some out (see JobClass::explained).
  std::uint64_t pass_seq = 0, take_seq = 0;
  std::vector<std::uint64_t> pool_taken;

  // Whether a job of the class, `pending`, waits as its last job explained
  // in this pass did (see JobClass::Explained).
  bool explained_alike(const Scheduler& scheduler, const PendingJob& pending, const JobClass& klass,
                       const std::vector<std::uint32_t>& usable, Instant now) const {
    const auto& x = klass.explained;
    if (x.pass != pass_seq || x.ent_version != ent_version) return false;
    const Job& job = *pending.job;
    if (job.preferences.max_price_per_gpu_hour || (meets_deadlines && job.deadline)) {
      return false;
    }
    for (std::uint32_t p : usable) {
      if (pool_taken[p] > x.take_seq) return false;
    }
    for (std::uint32_t p : x.short_of) {
      const Instant cut = cut_at(klass, p);
      if (cut != Instant::max() && now + scheduler.run_time(pending, klass.speed(p)) > cut &&
          !scheduler.can_checkpoint_before(job, now, cut)) {
        return false;
      }
    }
    return true;
  }

  void take(const ClusterState& state, std::uint32_t org, const Allocation& allocation,
            std::int32_t gpus) {
    const std::uint32_t p = allocation.pool;
    pool_taken[p] = ++take_seq;
    if (!node_copied[p]) {
      node_free[p] = state.pools()[p].free();
      free_total[p] = state.pools()[p].free_total();
      node_copied[p] = 1;
      touched.push_back(p);
    }
    for (const auto& [node, n] : allocation.nodes)
      node_free[p][static_cast<std::size_t>(node)] -= n;
    free_total[p] -= gpus;
    std::size_t i = static_cast<std::size_t>(org) * pool_count + p;
    if (i >= added.size()) added.resize(orgs.size() * pool_count, 0);
    if (added[i] == 0) added_touched.push_back(i);
    added[i] += gpus;
  }

  std::int32_t added_by(std::uint32_t org, std::uint32_t p) const {
    std::size_t i = static_cast<std::size_t>(org) * pool_count + p;
    return i < added.size() ? added[i] : 0;
  }

  // ---- Preemption (kPriorityFairShare with options.preemption).
  std::vector<std::int32_t> preempt_free;    // scratch view
  std::vector<std::uint32_t> victims;        // scratch
  std::vector<char> chosen;                  // by position in state.running, this pass
  std::vector<std::uint32_t> chosen_list;    // where `chosen` is set
  std::vector<std::uint32_t> preempt_pools;  // where the job waits for GPUs alone
  std::uint32_t preempt_pool = 0;            // where preempt_for made room, if it did
  // By pool: the org and priority the pool's GPUs are held for in this pass,
  // while jobs leave to make room for a preempting job: lower-priority jobs
  // of that org do not take them back meanwhile.
  struct Hold {
    bool held = false;
    std::uint32_t org = 0;
    int priority = 0;
  };
  std::vector<Hold> holds;

  // Frees room for `job` on one of `preempt_pools` by preempting running
  // jobs of its org with a lower priority (lowest first, then the latest
  // started), fewest needed; none if jobs already leaving will free enough.
  // Returns the positions chosen (empty: none, or none needed); where room
  // is coming, the pool is held for the job (`holds`). (preemption.cc)
  const std::vector<std::uint32_t>& preempt_for(const ClusterState& state, const Job& job,
                                                std::uint32_t who);

  // Positions in state.running() of pool p's jobs, by the time they end
  // (the sooner of completion and must_leave_by): reservation searches and
  // preemption walk them in that order.
  static const std::vector<std::uint32_t>& by_end(const ClusterState& state, std::uint32_t p) {
    return state.running_by_pool(p);
  }

  // ---- The stages of a pass; plan_subset drives them, a job at a time:
  // queue order, pre-filters (the pass's window, a blocked head of line,
  // quotas; then the job's class: what earlier passes found still holds),
  // filters of each (job, pool) with reasons, EASY reservations, scoring,
  // and for a job no pool took, the post-filter (preemption).
  // One pass: what its stages share.
  struct Pass {
    Pass(const Scheduler& s, const ClusterState& st, Instant at, bool explaining)
        : scheduler(s),
          options(s.options()),
          state(st),
          now(at),
          explain(explaining),
          policy(queue_policy_info(options.policy)),
          scoring(options.scoring.value_or(policy.scoring)),
          easy(policy.reserves),
          fair_share(policy.counts_held),
          preempting(policy.can_preempt && options.preemption),
          memos(!explain && !preempting) {}
    const Scheduler& scheduler;
    const SchedulerOptions& options;
    const ClusterState& state;
    const Instant now;
    const bool explain;
    const QueuePolicyInfo& policy;
    const Scoring scoring;
    const bool easy;        // reservations (policy.reserves)
    const bool fair_share;  // counts the GPUs orgs and teams hold (policy.counts_held)
    // Preemption depends on each job's priority: no class-wide findings then.
    const bool preempting;
    const bool memos;  // class-wide findings apply
    Plan plan;
    // The order jobs are tried in: the queue's own (no list needed), or
    // Impl::order (the given subset, or as the policy sorts them).
    bool in_queue_order = false;
    std::size_t to_try = 0;
    std::size_t considered = 0;  // jobs the window has taken so far
    bool fair_window = false;    // a window shared by org (share_window_by_org)
    bool blocked = false;        // a blocking policy: a job could not start, the rest wait
    std::string blocked_by;
    std::map<OrgId, std::int32_t> org_gpus;  // held now, across all sites
    std::map<std::pair<OrgId, std::string>, std::int32_t> team_gpus;

    // Without `explain`, only the jobs given up on are listed.
    void wait(Waiting w) {
      if (explain || w.never) plan.waiting.push_back(std::move(w));
    }
  };

  // A job tried in full: what the filters found at its pools.
  struct Trial {
    std::size_t index = 0;  // into state.pending
    const PendingJob* pending = nullptr;
    JobClass* klass = nullptr;
    std::uint32_t klass_index = 0, org_index = 0;
    OrgInfo* org = nullptr;
    const Entitlement* ent = nullptr;  // the org's, by pool
    const std::vector<std::uint32_t>* usable = nullptr;
    Instant holds_until;      // what the decisions consulted hold until
    bool claim_whole = true;  // every pool without room is in job_claim
    bool could_ever = false;
    std::uint32_t refusing_rule = 0;  // with explain: the first rule that refused it
    bool job_specific = false;  // refused somewhere for what is the job's own, not its class's
    // Whether, of the job's own, only its length was refused: at reserved
    // pools (which the class's finding can say, see Hopeless::blocked).
    bool specific_before_reservations = false;
    // With explain: why the job was refused at each pool, in pool order. A
    // reason names the first three and counts the rest, so only the first
    // three texts are built.
    std::vector<std::string> rejections;
    std::size_t rejected = 0;
    std::vector<Candidate> candidates;

    template <typename Text>
    void reject(Text text) {
      if (rejections.size() < 3) rejections.push_back(text());
      ++rejected;
    }
  };
  Trial trial;  // (its buffers reused job after job)

  // What the filters of capacity and decisions found at a pool they let through.
  struct Access {
    bool owned = false;
    std::int32_t entitled = 0;
    Instant lease_end = Instant::max();
    const Lease* active_lease = nullptr;
    const Money* price = nullptr;
    const Window* lease = nullptr;  // the lease decision, on a leased pool
    const Window* run = nullptr;    // the run decision
  };

  // Queue order: Impl::order and pass.to_try (and the GPUs held, for the policy).
  void order_queue(Pass& pass, const std::vector<std::size_t>& indexes);
  // The window shared by org, if the pass has one (select_window).
  void open_window(Pass& pass);
  // From `place`, the place of the first job not of a class found hopeless
  // earlier in the pass (those are passed over reading only their class).
  std::size_t pass_over_hopeless(Pass& pass, std::size_t place) const;
  // Pre-filters; each returns whether the job was settled (it waits).
  // The pass's: the window, a blocked head of line, the org's quota.
  bool pre_filter(Pass& pass, std::size_t i, const PendingJob& pending);
  // The job's class: what this pass or an earlier one found for it still
  // holds. Otherwise fills `trial` in for the filters.
  bool class_pre_filter(Pass& pass, std::size_t i, const PendingJob& pending, Trial& t);
  void wait_as_class(Pass& pass, std::size_t i, std::uint32_t k);
  // Filters (internal/filters.cc): every usable pool of the job's class,
  // each a candidate or a reason.
  void filter_pools(Pass& pass, Trial& t);
  bool admits(Pass& pass, Trial& t, std::uint32_t p, Access& a);
  void consider(Pass& pass, Trial& t, std::uint32_t p, const Access& a);
  bool within_budget(Pass& pass, Trial& t, std::uint32_t p, const Money& price, Duration run_time);
  void lacks_gpus(const ClusterState& state, std::uint32_t p) {
    short_of.push_back({p, node_copied[p] ? 0 : state.pools()[p].release_revision()});
  }
  // Reserve (easy_reservations.cc): drops the candidates that would delay
  // a reserved gang.
  void keep_reservations(Pass& pass, Trial& t);
  // Start the job at the best candidate (scoring).
  void start(Pass& pass, Trial& t, const Candidate& best);
  // A job no pool took: its class's findings, preemption, its wait.
  void refused(Pass& pass, Trial& t);
  void remember_refusal(Pass& pass, Trial& t, const std::string& reason);
  // Post-filter (preemption.cc): running jobs to stop for it.
  void preempt(Pass& pass, Trial& t, std::string& reason);
  // A job that waits but could start some day: it blocks the queue (FIFO) or
  // claims a reservation on `pools` (EASY).
  void block_or_claim(Pass& pass, const Job& job, std::uint32_t klass, std::uint32_t org,
                      const std::vector<std::uint32_t>& pools);
};

}  // namespace straits::sched
