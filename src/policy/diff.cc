// The symbolic diff of two rule sets (diff.h). Three steps: enumerate the
// subjects the catalog can form, follow each one's decision through time on
// both engines and keep where the sides differ, then merge the rows into
// groups a person can read.
#include "policy/diff.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>
#include <type_traits>
#include <variant>

namespace straits::policy {
namespace {

// The catalog entities a subject is made of, as indexes into the catalog's
// lists; -1 for none. Which ones an action has: see subject_dims().
enum Dim : std::size_t { kChipDim, kSiteDim, kPoolDim, kSourceDim, kOrgDim, kDatasetDim, kDims };
using Dims = std::array<std::int32_t, kDims>;
constexpr std::int32_t kNone = -1;
// A dimension the action does not have.
constexpr std::int32_t kAbsent = -2;

struct Enumerated {
  Request request;
  Dims dims;
};

std::int32_t index(std::size_t i) {
  return static_cast<std::int32_t>(i);
}

Dims absent_dims() {
  Dims d;
  d.fill(kAbsent);
  return d;
}

// Every subject the catalog can form. A ship goes from each site or from the
// chip's origin, to each site, into no pool or into a pool of that chip at
// that site (its owner is then a party); a run uses each dataset alone or
// none.
std::vector<Enumerated> enumerate_subjects(const catalog::Catalog& cat, const DiffOptions& o) {
  std::vector<Enumerated> out;
  out.reserve(cat.chips().size() * cat.sites().size() * (cat.sites().size() + 1) +
              cat.orgs().size() * cat.pools().size() * (cat.datasets().size() + 2));
  const auto& chips = cat.chips();
  const auto& sites = cat.sites();
  const auto& pools = cat.pools();
  std::map<std::string_view, std::vector<std::size_t>> pools_at;  // site id -> pools
  for (std::size_t p = 0; p < pools.size(); ++p) pools_at[pools[p].site.str()].push_back(p);
  for (std::size_t c = 0; c < chips.size(); ++c) {
    for (std::size_t s = 0; s < sites.size(); ++s) {
      std::vector<std::int32_t> receivers = {kNone};
      for (std::size_t p : pools_at[sites[s].id.str()]) {
        if (pools[p].chip == chips[c].id) receivers.push_back(index(p));
      }
      for (std::int32_t p : receivers) {
        for (std::int32_t from = kNone; from < index(sites.size()); ++from) {
          ShipRequest r{chips[c].id, sites[s].id, std::nullopt, std::nullopt, "", o.quantity};
          if (from >= 0) r.source_site = sites[static_cast<std::size_t>(from)].id;
          if (p >= 0) r.pool = pools[static_cast<std::size_t>(p)].id;
          Dims d = absent_dims();
          d[kChipDim] = index(c);
          d[kSiteDim] = index(s);
          d[kPoolDim] = p;
          d[kSourceDim] = from;
          out.push_back({r, d});
        }
      }
    }
  }
  for (std::size_t g = 0; g < cat.orgs().size(); ++g) {
    for (std::size_t p = 0; p < pools.size(); ++p) {
      const OrgId& org = cat.orgs()[g].id;
      Dims d = absent_dims();
      d[kOrgDim] = index(g);
      d[kPoolDim] = index(p);
      out.push_back({LeaseRequest{org, pools[p].id, std::nullopt, o.country_tpp, o.org_tpp}, d});
      for (std::int32_t ds = kNone; ds < index(cat.datasets().size()); ++ds) {
        JobSpec job = o.job;
        job.datasets.clear();
        if (ds >= 0) job.datasets.push_back(cat.datasets()[static_cast<std::size_t>(ds)].id);
        d[kDatasetDim] = ds;
        out.push_back({RunRequest{org, pools[p].id, job}, d});
      }
    }
  }
  for (std::size_t ds = 0; ds < cat.datasets().size(); ++ds) {
    for (std::size_t s = 0; s < sites.size(); ++s) {
      Dims d = absent_dims();
      d[kDatasetDim] = index(ds);
      d[kSiteDim] = index(s);
      out.push_back({TransferRequest{cat.datasets()[ds].id, sites[s].id, ""}, d});
    }
  }
  return out;
}

Action action_of(const Request& request) {
  return static_cast<Action>(request.index());  // the variant follows the enum
}

DiffSide side_of(const Decision& d, std::map<RuleId, std::string>& titles) {
  DiffSide side;
  side.outcome = d.outcome;
  side.rules.reserve(d.rules.size());
  for (const MatchedRule& m : d.rules) {
    side.rules.push_back({m.id, m.effect, m.lifted_by, m.obligation});
    titles.try_emplace(m.id, m.title);
  }
  return side;
}

// A stretch of time from `from` (to the next stretch's start) over which one
// engine's decision stays the same.
struct Stretch {
  Instant from;
  DiffSide side;
};

// One engine's decision for one subject over [from, to), from one change
// point to the next (nothing changes in between: engine.h).
std::vector<Stretch> timeline(const Engine& engine, const Subject& subject, Instant from,
                              Instant to, std::map<RuleId, std::string>& titles) {
  std::vector<Stretch> out;
  for (Instant t = from; t < to;) {
    DiffSide side = side_of(engine.explain(subject, t), titles);
    if (out.empty() || out.back().side != side) out.push_back({t, std::move(side)});
    Instant next = engine.next_change_after(subject, t);
    if (next <= t) break;  // never: next_change_after only looks ahead
    t = next;
  }
  return out;
}

// The intervals where two timelines over [from, to) differ, merged when
// adjacent and alike.
void append_differences(const Request& request, const std::vector<Stretch>& a,
                        const std::vector<Stretch>& b, Instant to, std::vector<DiffRow>& out) {
  std::size_t i = 0, j = 0;
  bool open = false;  // out.back() belongs to this subject and may grow
  while (i < a.size() && j < b.size()) {
    Instant start = std::max(a[i].from, b[j].from);
    Instant end_a = i + 1 < a.size() ? a[i + 1].from : to;
    Instant end_b = j + 1 < b.size() ? b[j + 1].from : to;
    Instant end = std::min(end_a, end_b);
    if (a[i].side != b[j].side) {
      DiffRow* last = open ? &out.back() : nullptr;
      if (last != nullptr && last->until == start && last->base == a[i].side &&
          last->with == b[j].side) {
        last->until = end;
      } else {
        out.push_back({request, start, end, a[i].side, b[j].side});
        open = true;
      }
    }
    if (end == end_a) ++i;
    if (end == end_b) ++j;
  }
}

// A group under construction: sets of catalog indexes per dimension.
struct Cell {
  Action action = Action::kLease;
  std::array<std::vector<std::int32_t>, kDims> dims;
  Instant from, until;
  DiffSide base, with;
  std::vector<RuleId> changed;  // set once merged, to sort by

  // Everything but dimension `skip`, to find the cells it can merge with.
  auto key_without(std::size_t skip) const {
    auto others = dims;
    others[skip].clear();
    return std::make_tuple(base, with, action, from, until, others);
  }
};

// Merges cells that differ in dimension `d` only; true when any merged.
bool merge_along(std::vector<Cell>& cells, std::size_t d) {
  std::map<decltype(cells.front().key_without(0)), std::size_t> seen;
  std::vector<Cell> out;
  for (Cell& c : cells) {
    auto [it, fresh] = seen.try_emplace(c.key_without(d), out.size());
    if (fresh) {
      out.push_back(std::move(c));
      continue;
    }
    auto& into = out[it->second].dims[d];
    into.insert(into.end(), c.dims[d].begin(), c.dims[d].end());
    std::sort(into.begin(), into.end());
  }
  bool merged = out.size() < cells.size();
  cells = std::move(out);
  return merged;
}

std::vector<std::string> names(const std::vector<std::int32_t>& indexes, auto id_of) {
  std::vector<std::string> out;
  for (std::int32_t i : indexes) {
    if (i != kAbsent)
      out.push_back(i == kNone ? std::string() : id_of(static_cast<std::size_t>(i)));
  }
  return out;
}

// The rules behind a change: those that apply on one side only, or apply
// differently (another lifting licence, another obligation); by id.
std::vector<RuleId> changed_rules(const DiffSide& base, const DiffSide& with) {
  std::set<RuleId> out;
  for (const auto* side : {&base, &with}) {
    const DiffSide& other = side == &base ? with : base;
    for (const AppliedRule& r : side->rules) {
      if (std::find(other.rules.begin(), other.rules.end(), r) == other.rules.end()) {
        out.insert(r.id);
      }
    }
  }
  return {out.begin(), out.end()};
}

// The rows, merged: first every dimension in turn until nothing merges, so
// that each group is the product of its lists; then sorted by rules.
std::vector<DiffGroup> group_rows(const catalog::Catalog& cat, const std::vector<DiffRow>& rows,
                                  const std::vector<Dims>& row_dims) {
  std::vector<Cell> cells;
  cells.reserve(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    Cell c{action_of(rows[r].request),
           {},
           rows[r].from,
           rows[r].until,
           rows[r].base,
           rows[r].with,
           {}};
    for (std::size_t d = 0; d < kDims; ++d) c.dims[d] = {row_dims[r][d]};
    cells.push_back(std::move(c));
  }
  // Datasets and orgs first: they merge most, and a person reads chips and
  // countries best against a short list of parties.
  constexpr std::array<std::size_t, kDims> kOrder = {kDatasetDim, kOrgDim,  kSourceDim,
                                                     kPoolDim,    kChipDim, kSiteDim};
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t d : kOrder) merged = merge_along(cells, d) || merged;
  }
  for (Cell& c : cells) c.changed = changed_rules(c.base, c.with);
  std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) {
    return std::tie(a.changed, a.base, a.with, a.action, a.from, a.until, a.dims) <
           std::tie(b.changed, b.base, b.with, b.action, b.from, b.until, b.dims);
  });
  std::vector<DiffGroup> out;
  out.reserve(cells.size());
  for (const Cell& c : cells) {
    DiffGroup g;
    g.action = c.action;
    g.chips = names(c.dims[kChipDim], [&](std::size_t i) { return cat.chips()[i].id.str(); });
    g.sites = names(c.dims[kSiteDim], [&](std::size_t i) { return cat.sites()[i].id.str(); });
    g.pools = names(c.dims[kPoolDim], [&](std::size_t i) { return cat.pools()[i].id.str(); });
    g.sources = names(c.dims[kSourceDim], [&](std::size_t i) { return cat.sites()[i].id.str(); });
    g.orgs = names(c.dims[kOrgDim], [&](std::size_t i) { return cat.orgs()[i].id.str(); });
    g.datasets =
        names(c.dims[kDatasetDim], [&](std::size_t i) { return cat.datasets()[i].id.str(); });
    g.changed = c.changed;
    g.from = c.from;
    g.until = c.until;
    g.base = c.base;
    g.with = c.with;
    out.push_back(std::move(g));
  }
  return out;
}

std::string describe(const Request& request) {
  return std::visit(
      [](const auto& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ShipRequest>) {
          return "ship of " + r.chip.str() + " to " + r.site.str();
        } else if constexpr (std::is_same_v<T, LeaseRequest>) {
          return "lease of " + r.pool.str() + " by " + r.org.str();
        } else if constexpr (std::is_same_v<T, RunRequest>) {
          return "run on " + r.pool.str() + " by " + r.org.str();
        } else {
          return "transfer of " + r.dataset.str() + " to " + r.site.str();
        }
      },
      request);
}

}  // namespace

Result<PolicyDiff> diff_policies(const catalog::Catalog& catalog, const Engine& base,
                                 const Engine& with, const DiffOptions& options) {
  if (options.to <= options.from) {
    return Error(ErrorCode::kInvalidArgument,
                 "policy diff: the range is empty: 'to' (" + to_iso8601(options.to) +
                     ") must be after 'from' (" + to_iso8601(options.from) + ")");
  }
  for (const auto& [side, engine] : {std::pair{"base", &base}, std::pair{"with", &with}}) {
    if (&engine->catalog() != &catalog) {
      return Error(ErrorCode::kFailedPrecondition,
                   std::string("policy diff: the ") + side +
                       " rule set was checked against another catalog; a diff compares rules "
                       "over one catalog (load both over the same one)");
    }
  }
  PolicyDiff diff;
  diff.from = options.from;
  diff.to = options.to;
  std::vector<Enumerated> subjects = enumerate_subjects(catalog, options);
  diff.subjects = subjects.size();
  std::vector<Dims> row_dims;
  std::map<RuleId, std::string> titles;
  for (const Enumerated& e : subjects) {
    auto a = base.resolve(e.request);
    auto b = with.resolve(e.request);
    // A request that neither side accepts as formed is no subject; an id
    // either side does not know means another catalog.
    if (!a && !b && a.error().code() == ErrorCode::kInvalidArgument &&
        a.error().message() == b.error().message()) {
      --diff.subjects;
      continue;
    }
    for (const auto* side : {&a, &b}) {
      if (!*side) {
        return Error(ErrorCode::kFailedPrecondition,
                     "policy diff: the " + describe(e.request) + " does not resolve on the " +
                         (side == &a ? "base" : "with") + " rules (" + side->error().message() +
                         "): were both rule sets loaded over this catalog?");
      }
    }
    std::size_t before = diff.rows.size();
    append_differences(e.request, timeline(base, *a, options.from, options.to, titles),
                       timeline(with, *b, options.from, options.to, titles), options.to, diff.rows);
    row_dims.insert(row_dims.end(), diff.rows.size() - before, e.dims);
  }
  for (const DiffRow& row : diff.rows) {
    for (const DiffSide* side : {&row.base, &row.with}) {
      for (const AppliedRule& r : side->rules) diff.titles.emplace(r.id, titles[r.id]);
    }
  }
  diff.groups = group_rows(catalog, diff.rows, row_dims);
  return diff;
}

// --- Rendering -------------------------------------------------------------

namespace {

using nlohmann::json;

std::string until_text(Instant until, Instant to) {
  return until == to ? to_iso_date(to) + " (end of range)" : to_iso_date(until);
}

// A side as "DENY by a, b" / "allow (no rule)".
std::string side_text(const DiffSide& side) {
  std::string out(to_string(side.outcome));
  if (side.rules.empty()) return out + " (no rule)";
  out += " by ";
  for (std::size_t i = 0; i < side.rules.size(); ++i) {
    const AppliedRule& r = side.rules[i];
    if (i > 0) out += ", ";
    out += r.id.str();
    if (r.effect == EffectKind::kRecord) out += " (record)";
    if (r.lifted_by) out += " (lifted by " + r.lifted_by->str() + ")";
  }
  return out;
}

json side_json(const DiffSide& side) {
  json rules = json::array();
  for (const AppliedRule& r : side.rules) {
    json j = {{"id", r.id.str()}, {"effect", std::string(to_string(r.effect))}};
    if (r.lifted_by) j["lifted_by"] = r.lifted_by->str();
    if (!r.obligation.empty()) j["obligation"] = r.obligation;
    rules.push_back(j);
  }
  return {{"outcome", std::string(to_string(side.outcome))}, {"rules", rules}};
}

json changed_ids(const DiffGroup& g) {
  json out = json::array();
  for (const RuleId& id : g.changed) out.push_back(id.str());
  return out;
}

// What people read beside the ids: chips and destination countries (from the
// sites and pools), and where each party is headquartered.
struct Derived {
  std::set<std::string> chips, countries, operators, orgs, receivers, sources, datasets;
};

// "SG (parent CN)": where a party is headquartered, and its ultimate parent.
std::string hq_pair(const CountryCode& hq, const CountryCode& parent_hq) {
  return hq.str() + (hq == parent_hq ? "" : " (parent " + parent_hq.str() + ")");
}

Derived derive(const DiffGroup& g, const catalog::Catalog& cat) {
  Derived d;
  auto org_class = [&](const OrgId& id) {
    const catalog::Org* org = cat.find_org(id);
    return org == nullptr ? id.str() : hq_pair(org->hq, cat.ultimate_parent(id).hq);
  };
  auto add_site = [&](const SiteId& id) {
    const catalog::Site* site = cat.find_site(id);
    if (site == nullptr) return;
    d.countries.insert(site->country.str());
    if (g.action == Action::kShip && cat.find_operator(site->operator_id) != nullptr) {
      const catalog::Operator& op = *cat.find_operator(site->operator_id);
      d.operators.insert(op.id.str() + " hq " + hq_pair(op.hq, cat.ultimate_parent(op.id).hq));
    }
  };
  for (const auto& c : g.chips) d.chips.insert(c);
  for (const auto& s : g.sites) add_site(SiteId(s));
  for (const auto& p : g.pools) {
    const catalog::Pool* pool = p.empty() ? nullptr : cat.find_pool(PoolId(p));
    if (pool == nullptr) continue;
    d.chips.insert(pool->chip.str());
    add_site(pool->site);
    if (g.action == Action::kShip) {
      d.receivers.insert(pool->owner ? pool->owner->str() + " hq " + org_class(*pool->owner)
                                     : pool->id.str() + " (no owner)");
    }
  }
  for (const auto& o : g.orgs) d.orgs.insert(org_class(OrgId(o)));
  for (const auto& s : g.sources) {
    const catalog::Site* site = s.empty() ? nullptr : cat.find_site(SiteId(s));
    d.sources.insert(site == nullptr ? "the chip's origin" : site->country.str());
  }
  for (const auto& id : g.datasets) {
    const catalog::Dataset* ds = id.empty() ? nullptr : cat.find_dataset(DatasetId(id));
    d.datasets.insert(ds == nullptr
                          ? "none"
                          : std::string(to_string(ds->data_class)) + " from " + ds->origin.str());
  }
  return d;
}

std::string joined(const auto& items, const char* separator = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : separator) + (s.empty() ? "none" : s);
  return out.empty() ? "-" : out;
}

}  // namespace

std::string diff_to_text(const PolicyDiff& diff, const catalog::Catalog& cat) {
  std::ostringstream out;
  out << "Decisions that change from " << to_iso_date(diff.from) << " to " << to_iso_date(diff.to)
      << " (" << diff.subjects << " subjects compared, " << diff.rows.size() << " changes found)\n";
  if (diff.groups.empty()) {
    out << "No decision changes.\n";
    return out.str();
  }
  const DiffGroup* previous = nullptr;
  for (const DiffGroup& g : diff.groups) {
    if (previous == nullptr || previous->changed != g.changed) {
      out << "\n== ";
      for (const RuleId& id : g.changed) {
        auto it = diff.titles.find(id);
        out << (&id == &g.changed.front() ? "" : "   ") << id << ": "
            << (it == diff.titles.end() ? "" : it->second) << "\n";
      }
    }
    previous = &g;
    Derived d = derive(g, cat);
    out << "  - " << to_string(g.action) << " " << to_iso_date(g.from) << " .. "
        << until_text(g.until, diff.to) << ": " << to_string(g.base.outcome) << " -> "
        << to_string(g.with.outcome) << "\n      base: " << side_text(g.base)
        << "\n      with: " << side_text(g.with) << "\n";
    out << "      chips: " << joined(d.chips) << "; to: " << joined(d.countries) << "\n";
    if (!g.pools.empty()) out << "      pools: " << joined(g.pools) << "\n";
    if (!g.sites.empty()) out << "      sites: " << joined(g.sites) << "\n";
    if (!d.operators.empty()) out << "      operators: " << joined(d.operators, "; ") << "\n";
    if (!d.receivers.empty()) out << "      into: " << joined(d.receivers, "; ") << "\n";
    if (!d.sources.empty()) out << "      from: " << joined(d.sources) << "\n";
    if (!g.orgs.empty()) {
      out << "      orgs: " << joined(g.orgs) << "\n        hq: " << joined(d.orgs, "; ") << "\n";
    }
    if (!g.datasets.empty()) {
      out << "      datasets: " << joined(g.datasets)
          << "\n        class and origin: " << joined(d.datasets, "; ") << "\n";
    }
  }
  return out.str();
}

std::string diff_to_json(const PolicyDiff& diff, const catalog::Catalog& cat) {
  json groups = json::array();
  for (const DiffGroup& g : diff.groups) {
    Derived d = derive(g, cat);
    json j = {{"action", std::string(to_string(g.action))},
              {"from", to_iso8601(g.from)},
              {"until", to_iso8601(g.until)},
              {"changed_rules", changed_ids(g)},
              {"base", side_json(g.base)},
              {"with", side_json(g.with)},
              {"chips", d.chips},
              {"countries", d.countries}};
    auto add = [&](const char* key, const auto& list) {
      if (!list.empty()) j[key] = list;
    };
    add("sites", g.sites);
    add("pools", g.pools);
    add("sources", g.sources);
    add("orgs", g.orgs);
    add("datasets", g.datasets);
    add("operator_hq", d.operators);
    add("receiver_hq", d.receivers);
    add("source_countries", d.sources);
    add("org_hq", d.orgs);
    add("dataset_class_origin", d.datasets);
    groups.push_back(std::move(j));
  }
  json titles = json::object();
  for (const auto& [id, title] : diff.titles) titles[id.str()] = title;
  json out = {{"from", to_iso8601(diff.from)}, {"to", to_iso8601(diff.to)},
              {"subjects", diff.subjects},     {"changed_rows", diff.rows.size()},
              {"groups", std::move(groups)},   {"rules", std::move(titles)}};
  return out.dump(2);
}

}  // namespace straits::policy
