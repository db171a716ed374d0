#include "sched/scheduler.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>

namespace straits::sched {

namespace {

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
std::string describe_denial(const policy::Decision& d, RuleId& rule) {
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
std::optional<Allocation> fit(const NodeView& view, std::int32_t gpus) {
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
bool can_fit(const NodeView& view, std::int32_t gpus) {
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

std::string gpus_text(std::int32_t n) {
  return std::to_string(n) + (n == 1 ? " GPU" : " GPUs");
}

}  // namespace

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
    std::size_t i = static_cast<std::size_t>(org) * pool_count + pool;
    return org < catalog.orgs().size() && i < state.usage.size() ? state.usage[i] : 0;
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
    const bool same_leases = ent_leases == state.leases.data() &&
                             ent_lease_count == state.leases.size() &&
                             ent_revision == state.leases_revision && ent_org_count == orgs.size();
    if (same_leases && ent_from <= now && now < ent_until) return;
    resolved.reserve(state.leases.size());
    for (const Lease& l : state.leases) {
      auto found = pool_index.find(l.pool.str());
      resolved.emplace_back(index_of_org(l.org), found == pool_index.end()
                                                     ? std::numeric_limits<std::uint32_t>::max()
                                                     : found->second);
    }
    ent.assign(orgs.size() * pool_count, Entitlement{});
    ent_from = Instant::min();
    ent_until = Instant::max();
    for (std::size_t i = 0; i < state.leases.size(); ++i) {
      const Lease& l = state.leases[i];
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
    ent_leases = state.leases.data();
    ent_lease_count = state.leases.size();
    ent_revision = state.leases_revision;
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
      const std::uint64_t revision = state.pools[p].revision;
      if (revision == s.checked_revision && !node_copied[p]) continue;
      const std::int32_t free = free_now(state, p);
      const std::int32_t room =
          o.owned[p] ? free
                     : std::min(free, e[p].gpus - used(state, c.org, p) - added_by(c.org, p));
      if (room >= c.gpus && (s.release_revision == 0 || node_copied[p] ||
                             state.pools[p].release_revision != s.release_revision)) {
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
  // Reservation searches walk a pool's running jobs by the time they end
  // (the sooner of completion and must_leave_by): state.running_by_pool
  // when the state keeps it (`indexed`), else a list sorted here.
  bool indexed_state = false;
  std::vector<std::uint32_t> unindexed_order;
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
    r.entitled = r.owned ? state.pools[p].pool->gpus()
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
    const bool same_org = indexed_state ? r.org_slot == who : r.job->org == orgs[who].id;
    for (const auto& [node, gpus] : r.allocation.nodes) {
      std::int32_t& f = free[static_cast<std::size_t>(node)];
      if (levels != nullptr) --(*levels)[static_cast<std::size_t>(f)];
      f += gpus;
      if (levels != nullptr) ++(*levels)[static_cast<std::size_t>(f)];
      total += gpus;
      if (same_org) in_use -= gpus;
    }
  }

  // When the claim's gang could start on pool p: release running jobs in
  // order of their end until it fits. Also says after how many.
  Search search(const ClusterState& state, const Claim& claim, std::uint32_t p) {
    const Job& job = *claim.job;
    Search& slot =
        searches[static_cast<std::size_t>(p) * kSearchSlots + claim.klass % kSearchSlots];
    const bool untouched = !node_copied[p];
    const std::uint64_t revision = state.pools[p].revision;
    if (untouched && slot.klass == claim.klass && slot.revision == revision &&
        slot.ent_version == ent_version) {
      return slot;
    }
    const Room room = room_of(state, claim.org, p);
    const NodeView nodes = view(state, p);
    Search found{claim.klass, revision, ent_version, std::nullopt, 0};
    // Whether the gang fits follows from how many nodes have how many GPUs
    // free (as fit() places it: whole free nodes, then the rest on another
    // node with room), kept up to date as jobs end, in O(1) a node.
    const std::int32_t per_node = nodes.per_node;
    const std::int32_t whole = job.gpus / per_node, rest = job.gpus % per_node;
    level_count.assign(static_cast<std::size_t>(per_node) + 1, 0);
    for (std::size_t n = 0; n < nodes.nodes; ++n)
      ++level_count[static_cast<std::size_t>(nodes.free[n])];
    auto fits = [&] {
      const std::int32_t full = level_count[static_cast<std::size_t>(per_node)];
      if (full < whole) return false;
      if (rest == 0 || full > whole) return true;
      for (std::int32_t v = rest; v < per_node; ++v) {
        if (level_count[static_cast<std::size_t>(v)] > 0) return true;
      }
      return false;
    };
    future_free.assign(nodes.free, nodes.free + nodes.nodes);
    std::int32_t future_total = nodes.free_total;
    std::int32_t future_in_use = room.in_use;
    const std::vector<std::uint32_t>& ending = by_end(state, p);
    for (std::size_t i = 0; i < ending.size(); ++i) {
      const RunningJob& r = state.running[ending[i]];
      release(r, claim.org, future_free, future_total, future_in_use, &level_count);
      std::int32_t future_room =
          room.owned ? future_total : std::min(future_total, room.entitled - future_in_use);
      if (future_room >= job.gpus && fits()) {
        found.when = r.frees_at();
        found.ended = i + 1;
        break;
      }
    }
    if (untouched) slot = found;
    return found;
  }

  // Settles the claims in queue order: each gets a reservation on the pool,
  // among those it claimed that hold none yet, where it could start soonest.
  void settle_claims(const ClusterState& state, std::size_t upto) {
    for (; settled < upto; ++settled) {
      const Claim& claim = claims[settled];
      std::optional<std::pair<std::uint32_t, Search>> best;
      for (std::size_t k = claim.first; k < claim.first + claim.count; ++k) {
        const std::uint32_t p = claim_pools[k];
        if (reservations[p].held) continue;
        Search found = search(state, claim, p);
        if (found.when && (!best || *found.when < *best->second.when)) best.emplace(p, found);
      }
      if (!best) continue;
      const std::uint32_t p = best->first;
      Reservation& r = reservations[p];
      const Room room = room_of(state, claim.org, p);
      const NodeView nodes = view(state, p);
      r.held = true;
      touched.push_back(p);
      r.shadow = *best->second.when;
      r.job = claim.job;
      r.klass = claim.klass;
      r.org = claim.org;
      r.owned = room.owned;
      r.entitled = room.entitled;
      r.free.assign(nodes.free, nodes.free + nodes.nodes);
      r.free_total = nodes.free_total;
      r.in_use = room.in_use;
      const std::vector<std::uint32_t>& ending = by_end(state, p);
      for (std::size_t i = 0; i < best->second.ended; ++i) {
        release(state.running[ending[i]], claim.org, r.free, r.free_total, r.in_use);
      }
    }
    if (settled < claims.size()) return;
    for (std::uint32_t p : claim_pools) claimed[p] = 0;
    settled = 0;
    claims.clear();
    claim_pools.clear();
  }

  // Whether a claim was made: none if every pool of it is reserved already.
  bool add_claim(const Job& job, std::uint32_t klass, std::uint32_t who,
                 const std::vector<std::uint32_t>& pools) {
    const std::size_t first = claim_pools.size();
    for (std::uint32_t p : pools) {
      if (reservations[p].held) continue;
      claim_pools.push_back(p);
      claimed[p] = claims.size() + 1;  // (cleared with claim_pools, see begin_pass)
    }
    if (claim_pools.size() == first) return false;
    claims.push_back(Claim{&job, klass, who, first, claim_pools.size() - first});
    return true;
  }

  // Whether a job starting now on `allocation`'s pool, running until `end`,
  // leaves the pool's reservation whole.
  bool spares_reservation(const Allocation& allocation, std::uint32_t who, std::int32_t gpus,
                          Instant end) {
    const Reservation& r = reservations[allocation.pool];
    if (!r.held || end <= r.shadow) return true;
    future_free = r.free;
    for (const auto& [node, n] : allocation.nodes) future_free[static_cast<std::size_t>(node)] -= n;
    const NodeView after{future_free.data(), future_free.size(), r.free_total - gpus,
                         catalog.pools()[allocation.pool].gpus_per_node, allocation.pool};
    const std::int32_t in_use = r.in_use + (who == r.org ? gpus : 0);
    const std::int32_t room =
        r.owned ? after.free_total : std::min(after.free_total, r.entitled - in_use);
    const bool fits = can_fit(after, r.job->gpus);
#ifndef NDEBUG
    // (fit() would allocate; the debug builds check the two agree.)
    const bool placed = fit(after, r.job->gpus).has_value();
    assert(fits == placed);
#endif
    return room >= r.job->gpus && fits;
  }

  // A job started: what it holds at a reservation's start is not free then.
  void hold_against_reservation(const Allocation& allocation, std::uint32_t who, std::int32_t gpus,
                                Instant end) {
    Reservation& r = reservations[allocation.pool];
    if (!r.held || end <= r.shadow) return;
    for (const auto& [node, n] : allocation.nodes) r.free[static_cast<std::size_t>(node)] -= n;
    r.free_total -= gpus;
    if (who == r.org) r.in_use += gpus;
  }

  // Most passes touch few pools, and a pass is a cheap thing to start:
  // what the last one set is cleared pool by pool (`touched`).
  void begin_pass(const ClusterState& state) {
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
    indexed_state = indexed(state);
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
    return node_copied[p] ? free_total[p] : state.pools[p].free_total;
  }

  NodeView view(const ClusterState& state, std::uint32_t p) const {
    const PoolState& pool = state.pools[p];
    return NodeView{node_copied[p] ? node_free[p].data() : pool.free.data(), pool.free.size(),
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
      node_free[p] = state.pools[p].free;
      free_total[p] = state.pools[p].free_total;
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

  // Whether state.running_by_pool is consistent with state.running (it is
  // unless a caller changed `running` directly).
  static bool indexed(const ClusterState& state) {
    if (state.running_by_pool.size() != state.pools.size()) return false;
    std::size_t total = 0;
    for (const auto& list : state.running_by_pool) total += list.size();
    return total == state.running.size();
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
  // is coming, the pool is held for the job (`holds`).
  const std::vector<std::uint32_t>& preempt_for(const ClusterState& state, const Job& job,
                                                std::uint32_t who) {
    auto hold = [&](std::uint32_t p) {
      if (!holds[p].held || holds[p].priority < job.priority) {
        holds[p] = Hold{true, who, job.priority};
        touched.push_back(p);
      }
    };
    victims.clear();
    if (chosen.size() < state.running.size()) chosen.resize(state.running.size(), 0);
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
        const RunningJob& r = state.running[at];
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
        const RunningJob& x = state.running[a];
        const RunningJob& y = state.running[b];
        if (x.job->priority != y.job->priority) return x.job->priority < y.job->priority;
        if (x.started != y.started) return x.started > y.started;
        return x.job->id < y.job->id;
      });
      for (std::size_t k = 0; k < candidates.size(); ++k) {
        release_one(state.running[candidates[k]]);
        if (fits()) {
          victims.assign(candidates.begin(),
                         candidates.begin() + static_cast<std::ptrdiff_t>(k + 1));
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

  // Positions in state.running of pool p's jobs, by the time they end.
  const std::vector<std::uint32_t>& by_end(const ClusterState& state, std::uint32_t p) {
    if (indexed_state) return state.running_by_pool[p];
    unindexed_order.clear();
    for (std::uint32_t at = 0; at < state.running.size(); ++at) {
      if (state.running[at].allocation.pool == p) unindexed_order.push_back(at);
    }
    std::sort(unindexed_order.begin(), unindexed_order.end(),
              [&](std::uint32_t a, std::uint32_t b) {
                return frees_before(state.running[a], state.running[b]);
              });
    return unindexed_order;
  }
};

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

// Whether each reserved pool that refused the class's last job tried would
// refuse `pending` too (see Hopeless::blocked). Settles the claims on them.
bool Scheduler::Impl::still_blocked(const Scheduler& scheduler, const ClusterState& state,
                                    const PendingJob& pending, const JobClass& klass, Instant now) {
  for (const auto& b : klass.hopeless.blocked) {
    const std::uint32_t p = b.pool;
    if (node_copied[p] || state.pools[p].revision != b.revision) return false;
    if (claimed[p] > settled) settle_claims(state, claimed[p]);
    const Reservation& r = reservations[p];
    if (!r.held || r.klass != b.reserved_for || r.shadow != b.shadow) return false;
    // When it would leave the pool: its end, or the cut it checkpoints for.
    const Instant leaves =
        std::min(now + scheduler.run_time(pending, klass.speed(p)), cut_at(klass, p));
    if (leaves <= r.shadow) return false;
  }
  return true;
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

// Where a job could start. Its allocation (fit()) and the text of what cuts
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

}  // namespace

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

Plan Scheduler::plan(const ClusterState& state, Instant now, bool explain) {
  return plan_subset(state, now, {}, explain);
}

Plan Scheduler::plan_subset(const ClusterState& state, Instant now,
                            const std::vector<std::size_t>& indexes, bool explain) {
  Impl& impl = *impl_;
  Plan plan;
  // Without `explain`, only the jobs given up on are listed.
  if (explain) plan.waiting.reserve(indexes.empty() ? state.pending.size() : indexes.size());
  auto wait = [&plan, explain](Waiting w) {
    if (explain || w.never) plan.waiting.push_back(std::move(w));
  };
  impl.entitlements(state, now);
  impl.begin_pass(state);

  bool blocked = false;  // FIFO: a job could not start; the rest wait behind it
  std::string blocked_by;

  // The order jobs are tried in: the queue's own (no list needed), the
  // given subset, or as the policy sorts them.
  std::vector<std::size_t>& order = impl.order;
  const QueuePolicyInfo& policy = queue_policy_info(options_.policy);
  const Scoring scoring = options_.scoring.value_or(policy.scoring);
  impl.meets_deadlines = scoring == Scoring::kCost;
  const bool sorts = policy.sort != nullptr;
  const bool in_queue_order = indexes.empty() && !sorts;
  if (indexes.empty()) {
    if (sorts) {
      order.resize(state.pending.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    }
  } else {
    order = indexes;
  }
  const std::size_t to_try = in_queue_order ? state.pending.size() : order.size();
  std::map<OrgId, std::int32_t> org_gpus;  // held now, across all sites
  std::map<std::pair<OrgId, std::string>, std::int32_t> team_gpus;
  const bool fair_share = policy.counts_held;
  // Preemption depends on each job's priority: no class-wide findings then.
  const bool preempting = policy.can_preempt && options_.preemption;
  const bool memos = !explain && !preempting;
  if (fair_share || !options_.quotas.empty()) {
    for (const RunningJob& r : state.running) {
      org_gpus[r.job->org] += r.job->gpus;
      if (fair_share) team_gpus[{r.job->org, r.job->team}] += r.job->gpus;
    }
  }
  if (sorts) policy.sort(QueueSortContext{state, options_, org_gpus, team_gpus}, order);

  // With explain: why the job was refused at each pool, in pool order. A
  // reason names the first three and counts the rest, so only the first
  // three texts are built.
  std::vector<std::string> rejections;
  std::size_t rejected = 0;
  auto reject = [&rejections, &rejected](auto text) {
    if (rejections.size() < 3) rejections.push_back(text());
    ++rejected;
  };
  std::vector<Candidate> candidates;
  // By class: 0 unknown, 1 no job of it can start in this pass and none ever
  // could (never), 2 none can start in this pass.
  std::vector<char>& hopeless = impl.hopeless_in_pass;
  hopeless.assign(impl.classes.size(), 0);
  // By class: whether one of its jobs made an EASY claim in this pass. The
  // first blocked job of a class claims for it (its jobs need the same
  // GPUs on the same pools, and wait in queue order), explaining or not.
  std::vector<char>& claimed_for = impl.claimed_for_class;
  claimed_for.assign(impl.classes.size(), 0);
  const bool easy = policy.reserves;
  auto claim = [&](const Job& job, std::uint32_t k, std::uint32_t org,
                   const std::vector<std::uint32_t>& pools) {
    if (claimed_for.size() <= k) claimed_for.resize(impl.classes.size(), 0);
    if (claimed_for[k] == 0 && impl.add_claim(job, k, org, pools)) claimed_for[k] = 1;
  };
  // A job of a class found hopeless earlier in this pass is too: capacity
  // only shrinks during a pass, and nothing else it was refused for depends
  // on the job itself (see job_specific). Its class has claimed for it.
  auto wait_as_class = [&](std::size_t i, std::uint32_t k) {
    if (hopeless[k] == 1) plan.waiting.push_back(Waiting{i, std::string(), true, RuleId()});
  };
  std::size_t considered = 0;
  // A window shared by org (share_window_by_org): which jobs it holds.
  const bool fair_window = options_.share_window_by_org && options_.max_jobs_per_pass != 0 &&
                           to_try > options_.max_jobs_per_pass;
  if (fair_window) {
    select_window(state, in_queue_order ? nullptr : &order, to_try, options_.max_jobs_per_pass,
                  impl.in_window);
  }
  const auto outside_window = [&](std::size_t i) {
    if (fair_window) return impl.in_window[i] == 0;
    return options_.max_jobs_per_pass != 0 && ++considered > options_.max_jobs_per_pass;
  };
  // Jobs of a class found hopeless earlier in the pass (one that may start
  // later) are passed over in a loop that reads only their class: in a long
  // queue they are most of the jobs. (Not with quotas, checked first.)
  const bool pass_over = memos && options_.quotas.empty();
  for (std::size_t place = 0; place < to_try; ++place) {
    if (pass_over) {
      const std::size_t from = place;
      for (; place < to_try; ++place) {
        const std::uint32_t k =
            state.pending[in_queue_order ? place : order[place]].scheduler_class;
        if (k == 0 || k > hopeless.size() || hopeless[k - 1] != 2) break;
      }
      considered += place - from;
      if (place == to_try) break;
    }
    const std::size_t i = in_queue_order ? place : order[place];
    const PendingJob& pending = state.pending[i];
    if (outside_window(i)) {
      wait(Waiting{i,
                   !explain      ? std::string()
                   : fair_window ? "not reached in this pass (the scheduler considers " +
                                       std::to_string(options_.max_jobs_per_pass) +
                                       " queued jobs a pass, shared round robin by org)"
                                 : "not reached in this pass (the scheduler considers the first " +
                                       std::to_string(options_.max_jobs_per_pass) + " queued jobs)",
                   false, RuleId()});
      continue;
    }
    if (blocked && policy.blocks) {
      wait(Waiting{i, explain ? "waiting behind " + blocked_by + " (FIFO)" : std::string(), false,
                   RuleId()});
      continue;
    }
    // The Job itself is read only when needed: in a long queue most jobs are
    // settled from their class alone, and reading each job's memory would
    // cost more than the rest of the pass.
    if (auto quota = options_.quotas.empty() ? options_.quotas.end()
                                             : options_.quotas.find(pending.job->org);
        quota != options_.quotas.end()) {
      const Job& job = *pending.job;
      auto held = org_gpus.find(job.org);
      std::int32_t now_held = held == org_gpus.end() ? 0 : held->second;
      if (now_held + job.gpus > quota->second) {
        wait(Waiting{i,
                     explain ? "org " + job.org.str() + " holds " + gpus_text(now_held) +
                                   " of its quota of " + std::to_string(quota->second)
                             : std::string(),
                     job.gpus > quota->second, RuleId()});
        continue;
      }
    }
    // Most jobs of a long queue are of a class found hopeless earlier in
    // the pass: this path reads no more than it must.
    if (const std::uint32_t known = pending.scheduler_class;
        memos && known != 0 && known <= hopeless.size() && hopeless[known - 1] != 0) {
      wait_as_class(i, known - 1);
      continue;
    }
    Impl::JobClass& klass = impl.class_of(pending);
    const auto klass_index = static_cast<std::uint32_t>(&klass - impl.classes.data());
    if (memos && klass_index < hopeless.size() && hopeless[klass_index] != 0) {
      wait_as_class(i, klass_index);  // (its hint was set in this pass)
      continue;
    }
    const std::uint32_t org_index = klass.org;
    Impl::OrgInfo& org = impl.org(org_index);
    if (impl.ent_org_count != impl.orgs.size()) impl.entitlements(state, now);  // a new org
    const Impl::Entitlement* ent = &impl.ent[static_cast<std::size_t>(org_index) * impl.pool_count];
    const std::vector<std::uint32_t>& usable = impl.usable_pools(klass);
    // A class found hopeless in an earlier pass still is; the job waits,
    // and claims as its class did, unless something of its own would have
    // refused it somewhere (its price ceiling, its deadline, or a cut it
    // could not run to the end of): it is tried in full then, as the
    // class's Hopeless finding rested on no such refusal.
    if (memos && impl.still_hopeless(klass, state, now, easy) &&
        !pending.job->preferences.max_price_per_gpu_hour &&
        !(impl.meets_deadlines && pending.job->deadline) &&
        !impl.cut_short(*this, pending, klass, now) &&
        impl.still_blocked(*this, state, pending, klass, now)) {
      const auto& h = klass.hopeless;
      if (h.blocked.empty()) {
        if (hopeless.size() <= klass_index) hopeless.resize(impl.classes.size(), 0);
        hopeless[klass_index] = h.could_ever ? 2 : 1;
      }
      // (Most jobs of a long queue pass here: no Waiting is built unless kept.)
      if (explain || !h.could_ever) {
        plan.waiting.push_back(Waiting{i, std::string(), !h.could_ever, RuleId()});
      }
      if (h.could_ever && policy.blocks) {
        blocked = true;
        blocked_by = pending.job->id.str();
      } else if (h.could_ever && easy) {
        claim(*pending.job, klass_index, org_index, klass.claim);
      }
      continue;
    }
    // Explaining: a job of a class whose last job waits for what still holds
    // waits alike (see JobClass::Explained).
    if (explain && !preempting && impl.explained_alike(*this, pending, klass, usable, now)) {
      const auto& x = klass.explained;
      wait(Waiting{i, x.reason, !x.could_ever, impl.rule_ids[x.rule]});
      if (!x.could_ever) continue;
      if (policy.blocks) {
        blocked = true;
        blocked_by = pending.job->id.str();
      } else if (easy) {
        claim(*pending.job, klass_index, org_index, x.claim);
      }
      continue;
    }
    const Job& job = *pending.job;
    Instant holds_until = Instant::max();  // what the decisions consulted hold until
    bool claim_whole = true;               // every pool without room is in job_claim
    impl.job_claim.clear();
    impl.preempt_pools.clear();
    rejections.clear();
    rejected = 0;
    candidates.clear();
    bool could_ever = false;
    std::uint32_t refusing_rule = 0;  // with explain: the first rule that refused it
    bool job_specific = false;       // refused somewhere for what is the job's own, not its class's
    auto& short_of = impl.short_of;  // pools it lacks GPUs on, for its class's Hopeless finding
    short_of.clear();
    auto lacks_gpus = [&](std::uint32_t p) {
      short_of.push_back({p, impl.node_copied[p] ? 0 : state.pools[p].release_revision});
    };
    for (std::uint32_t p : usable) {
      const PoolState& pool = state.pools[p];
      const catalog::Pool& cp = *pool.pool;
      const std::string& name = cp.id.str();
      const auto& prefs = job.preferences;
      const bool owned = org.owned[p] != 0;
      std::int32_t entitled = cp.gpus();
      Instant lease_end = Instant::max();
      const Lease* active_lease = nullptr;
      const Money* price = &pool.price;
      if (!owned) {
        const Impl::Entitlement& e = ent[p];
        if (e.gpus == 0) {
          if (e.future_max >= job.gpus) {
            could_ever = true;
            if (explain)
              reject([&] { return std::string("lease on " + name + " not started yet"); });
          }
          continue;
        }
        entitled = e.gpus;
        lease_end = e.end;
        active_lease = e.latest;
        price = &e.latest->price_per_gpu_hour;
      }
      if (entitled < job.gpus) {
        if (explain)
          reject([&] {
            return std::string("the lease on " + name + " gives only " + gpus_text(entitled));
          });
        if (!owned && ent[p].future_max >= job.gpus) could_ever = true;
        continue;
      }
      if (prefs.max_price_per_gpu_hour &&
          price->currency() == prefs.max_price_per_gpu_hour->currency() &&
          price->micros() > prefs.max_price_per_gpu_hour->micros()) {
        if (explain)
          reject([&] {
            return std::string(name + " costs " + to_string(*price) +
                               " per GPU-hour, over the ceiling");
          });
        job_specific = true;
        continue;
      }
      const Window* lease = nullptr;
      if (!owned) {
        lease = &impl.lease_decision(job, org, p, now);
        holds_until = std::min(holds_until, lease->until);
        if (!lease->allowed) {
          if (explain) {
            reject([&] { return std::string("lease denied at " + name + ": " + lease->reason); });
            if (refusing_rule == 0) refusing_rule = lease->rule;
          }
          if (lease->until != Instant::max()) could_ever = true;
          continue;
        }
      }
      const Window& run = impl.run_decision(job, klass, p, now);
      holds_until = std::min(holds_until, run.until);
      if (!run.allowed) {
        if (explain) {
          reject([&] { return std::string("denied at " + name + ": " + run.reason); });
          if (refusing_rule == 0) refusing_rule = run.rule;
        }
        if (run.until != Instant::max()) could_ever = true;
        continue;
      }
      could_ever = true;
      if (preempting && impl.holds[p].held && impl.holds[p].org == org_index &&
          impl.holds[p].priority > job.priority) {
        if (explain)
          reject([&] { return std::string(name + " is held for a job of higher priority"); });
        job_specific = true;
        continue;
      }
      // Foresight: what cuts a run started now.
      Instant must_leave_by = lease_end;
      // What cuts it, as text only when needed: the lease's end, or a rule.
      const std::string* cut_rule = nullptr;
      std::uint32_t cut_rule_id = 0;
      if (lease != nullptr && lease->allowed_until < must_leave_by) {
        must_leave_by = lease->allowed_until;
        cut_rule = &lease->cut_reason;
        cut_rule_id = lease->cut_rule;
      }
      if (run.allowed_until < must_leave_by) {
        must_leave_by = run.allowed_until;
        cut_rule = &run.cut_reason;
        cut_rule_id = run.cut_rule;
      }
      // Capacity now: the org's entitlement left and a node arrangement.
      const std::int32_t in_use = impl.used(state, org_index, p) + impl.added_by(org_index, p);
      const NodeView nodes = impl.view(state, p);
      std::int32_t room = owned ? nodes.free_total : std::min(nodes.free_total, entitled - in_use);
      if (room < job.gpus && !explain && !preempting && (!easy || impl.reservations[p].held)) {
        // Cannot start here, and no reservation to claim: what follows
        // would only say more about why.
        if (easy) claim_whole = false;
        lacks_gpus(p);
        continue;
      }
      auto cut_text = [&]() -> std::string {
        if (cut_rule != nullptr) return *cut_rule;
        return owned ? std::string() : "lease " + active_lease->id.str() + " ends";
      };
      const Duration run_time = this->run_time(pending, klass.speed(p));
      Instant expected_end = now + run_time;
      if (impl.meets_deadlines && job.deadline && expected_end > *job.deadline) {
        if (explain)
          reject([&] { return std::string("at " + name + " it would finish after its deadline"); });
        job_specific = true;
        continue;
      }
      if (expected_end > must_leave_by) {
        if (!can_checkpoint_before(job, now, must_leave_by)) {
          if (explain)
            reject([&] {
              return std::string("would run past " + to_iso8601(must_leave_by) + " at " + name +
                                 " (" + cut_text() + ") and cannot checkpoint before");
            });
          job_specific = true;
          continue;
        }
      } else {
        must_leave_by = Instant::max();
      }
      // (can_fit() says whether fit() would place the gang, without placing
      // it: the allocation is made for the pool chosen.)
      const bool fits = room >= job.gpus && (job.gpus > 0 ? can_fit(nodes, job.gpus)
                                                          : fit(nodes, job.gpus).has_value());
      if (!fits) {
        if (explain)
          reject([&] {
            return std::string(name + " has " + gpus_text(std::max(0, room)) +
                               " free for it now, needs " + std::to_string(job.gpus));
          });
        if (preempting) impl.preempt_pools.push_back(p);
        lacks_gpus(p);
        // Under EASY it may claim the pool's reservation, if it holds none.
        if (!easy) continue;
        if (impl.reservations[p].held) {
          claim_whole = false;
          continue;
        }
        impl.job_claim.push_back(p);
        continue;
      }
      if (!options_.budgets.empty()) {
        auto budget = options_.budgets.find({job.org, job.team});
        if (budget != options_.budgets.end()) {
          auto spent_it = state.spent.find({job.org, job.team});
          double spent = spent_it == state.spent.end() ? 0 : spent_it->second;
          double expected = price->units() * job.gpus * run_time.to_hours();
          if (spent + expected > budget->second.units()) {
            if (explain) {
              reject([&] {
                return std::string("at " + name + " it would cost about " +
                                   std::to_string(static_cast<long long>(expected)) + " " +
                                   price->currency().str() + ", past team " + job.team +
                                   "'s budget (" + to_string(budget->second) + ", " +
                                   std::to_string(static_cast<long long>(spent)) + " spent)");
              });
            }
            job_specific = true;
            continue;
          }
        }
      }
      Candidate c;
      c.pool = p;
      c.expected_end = expected_end;
      c.must_leave_by = must_leave_by;
      if (must_leave_by != Instant::max()) {
        c.cut_text = cut_rule;
        c.lease = owned ? nullptr : active_lease;
        c.cut_rule = cut_rule_id;
      }
      c.site_rank = klass.site_rank(p);
      c.price = price->micros();
      c.neg_speed = -klass.speed(p);
      c.cost = static_cast<double>(c.price) * job.gpus * run_time.to_hours();
      candidates.push_back(std::move(c));
    }

    // EASY: a job may jump the reserved head only if it does not delay it
    // (which depends on how long the job runs: its own, not its class's).
    if (easy && !impl.claims.empty()) {
      std::size_t upto = 0;
      for (const Candidate& c : candidates) upto = std::max(upto, impl.claimed[c.pool]);
      if (upto > impl.settled) impl.settle_claims(state, upto);
    }
    // Whether, of the job's own, only its length was refused: at reserved
    // pools (which the class's finding can say, see Hopeless::blocked).
    const bool specific_before_reservations = job_specific;
    auto& blocked_at = impl.blocked_at;
    blocked_at.clear();
    if (easy && std::any_of(candidates.begin(), candidates.end(),
                            [&](const Candidate& c) { return impl.reservations[c.pool].held; })) {
      job_specific = true;
      candidates.erase(
          std::remove_if(candidates.begin(), candidates.end(),
                         [&](const Candidate& c) {
                           const Instant leaves = std::min(c.expected_end, c.must_leave_by);
                           if (!impl.reservations[c.pool].held ||
                               leaves <= impl.reservations[c.pool].shadow ||
                               impl.spares_reservation(*fit(impl.view(state, c.pool), job.gpus),
                                                       org_index, job.gpus, leaves)) {
                             return false;
                           }
                           const Impl::Reservation& r = impl.reservations[c.pool];
                           blocked_at.push_back(
                               {c.pool, impl.node_copied[c.pool] ? 0 : state.pools[c.pool].revision,
                                r.klass, r.shadow});
                           return true;
                         }),
          candidates.end());
    }
    if (!candidates.empty()) {
      auto better = [scoring](const Candidate& x, const Candidate& y) {
        if (x.site_rank != y.site_rank) return x.site_rank < y.site_rank;
        if (scoring == Scoring::kThroughput && x.neg_speed != y.neg_speed) {
          return x.neg_speed < y.neg_speed;
        }
        if (scoring == Scoring::kCost && x.cost != y.cost) return x.cost < y.cost;
        if (x.price != y.price) return x.price < y.price;
        if (x.neg_speed != y.neg_speed) return x.neg_speed < y.neg_speed;
        return x.pool < y.pool;
      };
      auto best = std::min_element(candidates.begin(), candidates.end(), better);
      Allocation allocation = *fit(impl.view(state, best->pool), job.gpus);
      std::string cut_reason;
      if (best->must_leave_by != Instant::max()) {
        if (best->cut_text != nullptr) {
          cut_reason = *best->cut_text;
        } else if (best->lease != nullptr) {
          cut_reason = "lease " + best->lease->id.str() + " ends";
        }
      }
      impl.take(state, org_index, allocation, job.gpus);
      if (easy) {
        impl.hold_against_reservation(allocation, org_index, job.gpus,
                                      std::min(best->expected_end, best->must_leave_by));
      }
      if (fair_share || !options_.quotas.empty()) org_gpus[job.org] += job.gpus;
      if (fair_share) team_gpus[{job.org, job.team}] += job.gpus;
      plan.starts.push_back(Start{i, std::move(allocation), best->expected_end, best->must_leave_by,
                                  std::move(cut_reason), impl.rule_ids[best->cut_rule]});
      continue;
    }
    std::string reason;
    if (explain) {
      if (rejected == 0) {
        reason = "no pool it may use (no lease or own pool with an eligible chip and site)";
      } else {
        reason = rejections[0];
        for (std::size_t r = 1; r < rejections.size() && r < 3; ++r) reason += "; " + rejections[r];
        if (rejected > 3) reason += "; and " + std::to_string(rejected - 3) + " more";
      }
    }
    klass.hopeless.valid = false;
    const bool only_blocked = job_specific && !specific_before_reservations &&
                              !blocked_at.empty() &&
                              std::none_of(blocked_at.begin(), blocked_at.end(),
                                           [](const auto& b) { return b.revision == 0; });
    if (candidates.empty() && (!job_specific || only_blocked) && memos) {
      // (A job of the class that runs shorter might start at a reserved
      // pool: this pass tries each in turn.)
      if (!only_blocked) {
        if (hopeless.size() <= klass_index) hopeless.resize(impl.classes.size(), 0);
        hopeless[klass_index] = could_ever ? 2 : 1;
      }
      auto& h = klass.hopeless;
      h.blocked = blocked_at;
      h.valid = true;
      h.could_ever = could_ever;
      h.claim_whole = claim_whole;
      h.ent_version = impl.ent_version;
      h.until = holds_until;
      h.short_of = short_of;
      h.earliest_cut.reset();
      klass.claim = impl.job_claim;
    }
    if (explain && !preempting && candidates.empty() && !job_specific) {
      auto& x = klass.explained;
      x.pass = impl.pass_seq;
      x.take_seq = impl.take_seq;
      x.ent_version = impl.ent_version;
      x.reason = reason;
      x.rule = refusing_rule;
      x.could_ever = could_ever;
      x.claim = impl.job_claim;
      x.short_of.clear();
      for (const auto& s : short_of) x.short_of.push_back(s.pool);
    } else if (explain) {
      klass.explained.pass = 0;
    }
    if (preempting && could_ever && !impl.preempt_pools.empty()) {
      const auto& victims = impl.preempt_for(state, job, org_index);
      for (std::uint32_t at : victims) {
        plan.preemptions.push_back(
            Preempt{at, i,
                    "preempted by " + job.id.str() + " (priority " + std::to_string(job.priority) +
                        " over " + std::to_string(state.running[at].job->priority) + ")"});
      }
      if (explain && !victims.empty()) {
        reason +=
            "; preempting " + std::to_string(victims.size()) + " lower-priority job(s) of its org";
      }
    }
    wait(Waiting{i, std::move(reason), !could_ever, impl.rule_ids[refusing_rule]});
    if (!could_ever) continue;  // never blocks the queue
    if (policy.blocks) {
      blocked = true;
      blocked_by = job.id.str();
    } else if (easy) {
      claim(job, klass_index, org_index, impl.job_claim);
    }
  }
  return plan;
}

}  // namespace straits::sched
