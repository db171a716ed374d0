// The diff of two rule sets against brute force: every subject of the
// shipped catalog, on every day from 2022 to 2028, decided on both sides; the
// days whose decisions differ must be exactly those the diff's rows cover,
// with the same outcomes and rules.
#include "policy/diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "catalog/load.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;
const fs::path kSource(STRAITS_SOURCE_DIR);
const Instant kFrom = Instant::from_date(2022, 1, 1);
const Instant kTo = Instant::from_date(2028, 1, 1);
constexpr Duration kDay = Duration::hours(24);

DiffOptions range(Instant from, Instant to) {
  DiffOptions options;
  options.from = from;
  options.to = to;
  return options;
}

const catalog::Catalog& shipped() {
  static const catalog::Catalog c = *catalog::load_catalog(kSource / "catalog");
  return c;
}

Engine load(const std::vector<std::string>& scenarios, const catalog::Catalog& cat = shipped()) {
  std::vector<fs::path> packs = {kSource / "rules" / "default"};
  for (const auto& s : scenarios) packs.push_back(kSource / "rules" / "scenarios" / s);
  auto engine = Engine::load(cat, packs);
  EXPECT_TRUE(engine.has_value()) << engine.error().to_string();
  return *engine;
}

// The subjects, enumerated here independently of the library: every chip to
// every site, from each site or its origin, into no pool or a pool of that
// chip there; every org on every pool, leasing or running with each dataset
// or none; every dataset to every site.
std::vector<Request> all_subjects(const catalog::Catalog& cat, const DiffOptions& o) {
  std::vector<Request> out;
  for (const auto& chip : cat.chips()) {
    for (const auto& site : cat.sites()) {
      std::vector<std::optional<PoolId>> into = {std::nullopt};
      for (const auto& pool : cat.pools()) {
        if (pool.site == site.id && pool.chip == chip.id) into.push_back(pool.id);
      }
      for (const auto& pool : into) {
        out.push_back(ShipRequest{chip.id, site.id, std::nullopt, pool, "", 1});
        for (const auto& from : cat.sites()) {
          out.push_back(ShipRequest{chip.id, site.id, from.id, pool, "", 1});
        }
      }
    }
  }
  for (const auto& org : cat.orgs()) {
    for (const auto& pool : cat.pools()) {
      out.push_back(LeaseRequest{org.id, pool.id, std::nullopt, o.country_tpp, o.org_tpp});
      out.push_back(RunRequest{org.id, pool.id, JobSpec{}});
      for (const auto& d : cat.datasets()) {
        out.push_back(RunRequest{org.id, pool.id, JobSpec{1, 0, "training", {d.id}}});
      }
    }
  }
  for (const auto& d : cat.datasets()) {
    for (const auto& site : cat.sites()) out.push_back(TransferRequest{d.id, site.id, ""});
  }
  return out;
}

std::string key(const Request& r) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ShipRequest>) {
          return "ship " + x.chip.str() + " " + x.site.str() + " " +
                 (x.source_site ? x.source_site->str() : "-") + " " +
                 (x.pool ? x.pool->str() : "-");
        } else if constexpr (std::is_same_v<T, LeaseRequest>) {
          return "lease " + x.org.str() + " " + x.pool.str();
        } else if constexpr (std::is_same_v<T, RunRequest>) {
          return "run " + x.org.str() + " " + x.pool.str() + " " +
                 (x.job.datasets.empty() ? "-" : x.job.datasets[0].str());
        } else {
          return "transfer " + x.dataset.str() + " " + x.site.str();
        }
      },
      r);
}

// The outcome and the rule effects that bear on it, as the diff compares them.
DiffSide side_at(const Engine& engine, const Subject& s, Instant at) {
  DiffSide side;
  Decision d = engine.explain(s, at);
  side.outcome = d.outcome;
  for (const auto& m : d.rules) side.rules.push_back({m.id, m.effect, m.lifted_by, m.obligation});
  return side;
}

// The days whose rule lists are compared in full: each day on which a rule
// or licence of either side starts or ends, the day before, and every 30th
// day (a decision that changed between change points would show there).
std::set<std::int64_t> rule_check_days(const Engine& base, const Engine& with) {
  std::set<std::int64_t> days;
  for (const Engine* e : {&base, &with}) {
    for (Instant p : e->change_points()) {
      std::int64_t day = (p - kFrom).count_microseconds() / kDay.count_microseconds();
      if (p < kFrom) continue;
      days.insert(day);
      days.insert(day - 1);
    }
  }
  for (std::int64_t day = 0; day * kDay.count_microseconds() < (kTo - kFrom).count_microseconds();
       day += 30)
    days.insert(day);
  return days;
}

// Every day of every subject on both sides, against the diff's rows: the
// outcomes (the fast path, not the one the diff reads) on every day, the
// rules on the days above and on every day the diff lists.
void expect_matches_brute_force(const Engine& base, const Engine& with, const PolicyDiff& diff,
                                const DiffOptions& options) {
  const catalog::Catalog& cat = shipped();
  std::map<std::string, std::vector<const DiffRow*>> rows;
  for (const DiffRow& row : diff.rows) rows[key(row.request)].push_back(&row);
  std::vector<Request> subjects = all_subjects(cat, options);
  EXPECT_EQ(diff.subjects, subjects.size());
  const std::set<std::int64_t> rule_days = rule_check_days(base, with);
  std::size_t changed_days = 0, listed_days = 0;
  for (const Request& request : subjects) {
    Subject a = *base.resolve(request), b = *with.resolve(request);
    const auto& mine = rows[key(request)];
    std::int64_t n = 0;
    for (Instant day = kFrom; day < kTo; day += kDay, ++n) {
      auto listed = std::find_if(mine.begin(), mine.end(), [&](const DiffRow* r) {
        return r->from <= day && day < r->until;
      });
      Outcome oa = base.evaluate(a, day), ob = with.evaluate(b, day);
      if (listed == mine.end()) {
        EXPECT_EQ(oa, ob) << key(request) << " on " << to_iso_date(day) << ": " << to_string(oa)
                          << " vs " << to_string(ob) << " is missing from the diff";
        changed_days += oa != ob;
        if (oa == ob && rule_days.count(n)) {
          EXPECT_EQ(side_at(base, a, day), side_at(with, b, day))
              << key(request) << " on " << to_iso_date(day) << ": rules differ, not in the diff";
        }
        continue;
      }
      ++changed_days;
      ++listed_days;
      EXPECT_EQ((*listed)->base.outcome, oa) << key(request) << " on " << to_iso_date(day);
      EXPECT_EQ((*listed)->with.outcome, ob) << key(request) << " on " << to_iso_date(day);
      DiffSide sa = side_at(base, a, day), sb = side_at(with, b, day);
      EXPECT_NE(sa, sb) << key(request) << " on " << to_iso_date(day)
                        << ": the diff lists a change where both sides agree";
      EXPECT_EQ((*listed)->base, sa) << key(request) << " on " << to_iso_date(day);
      EXPECT_EQ((*listed)->with, sb) << key(request) << " on " << to_iso_date(day);
    }
  }
  EXPECT_EQ(changed_days, listed_days);
  // Every row starts and ends at a midnight (all dates of the packs are
  // days), so the days checked cover the rows whole.
  for (const DiffRow& row : diff.rows) {
    EXPECT_EQ(to_iso8601(row.from).substr(10), "T00:00:00Z") << key(row.request);
    EXPECT_EQ(to_iso8601(row.until).substr(10), "T00:00:00Z") << key(row.request);
  }
}

// A scenario pack laid over the default one, and the lease totals assumed
// (the tier caps bite only on a country's or group's whole leased TPP).
struct Scenario {
  std::string pack;
  std::optional<double> country_tpp, org_tpp;
};

void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.pack;
}

class DiffScenarioTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(DiffScenarioTest, MatchesBruteForceOnEveryDay) {
  Engine base = load({});
  Engine with = load({GetParam().pack});
  DiffOptions options = range(kFrom, kTo);
  options.country_tpp = GetParam().country_tpp;
  options.org_tpp = GetParam().org_tpp;
  auto diff = diff_policies(shipped(), base, with, options);
  ASSERT_TRUE(diff.has_value()) << diff.error().to_string();
  EXPECT_FALSE(diff->rows.empty()) << GetParam().pack << " changes nothing?";
  EXPECT_FALSE(diff->groups.empty());
  expect_matches_brute_force(base, with, *diff, options);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, DiffScenarioTest,
                         ::testing::Values(Scenario{"close-remote-access", {}, {}},
                                           Scenario{"domestic-only-cn", {}, {}},
                                           Scenario{"malaysia-tightens", {}, {}},
                                           Scenario{"tier-caps", 8.0e8, 3.0e7}),
                         [](const auto& param_info) {
                           std::string name = param_info.param.pack;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(DiffTest, DefaultAgainstItselfIsEmpty) {
  Engine base = load({});
  Engine with = load({});
  auto diff = diff_policies(shipped(), base, with, range(kFrom, kTo));
  ASSERT_TRUE(diff.has_value()) << diff.error().to_string();
  EXPECT_GT(diff->subjects, 0u);
  EXPECT_TRUE(diff->rows.empty());
  EXPECT_TRUE(diff->groups.empty());
  EXPECT_NE(diff_to_text(*diff, shipped()).find("No decision changes"), std::string::npos);
}

// The scenario forbids D:5-parented orgs remote access from 2027-01-01: the
// Singapore and Malaysia subsidiaries of hanshan lose the leased H100 and
// H200 pools, and the diff says so under the scenario's rule.
TEST(DiffTest, CloseRemoteAccessNamesHanshansLeasedPools) {
  Engine base = load({});
  Engine with = load({"close-remote-access"});
  auto diff = diff_policies(shipped(), base, with, range(kFrom, kTo));
  ASSERT_TRUE(diff.has_value()) << diff.error().to_string();
  const RuleId rule("scenario.close-remote-access.lease-run");
  std::set<std::string> pools;
  for (const DiffGroup& g : diff->groups) {
    if (g.action != Action::kLease) continue;
    if (std::find(g.orgs.begin(), g.orgs.end(), "hanshan-sg") == g.orgs.end()) continue;
    EXPECT_EQ(g.from, Instant::from_date(2027, 1, 1));
    EXPECT_EQ(g.until, kTo);
    EXPECT_EQ(g.with.outcome, Outcome::kDeny);
    EXPECT_EQ(g.changed, std::vector<RuleId>{rule});
    EXPECT_TRUE(std::any_of(g.with.rules.begin(), g.with.rules.end(),
                            [&](const AppliedRule& r) { return r.id == rule; }));
    pools.insert(g.pools.begin(), g.pools.end());
  }
  for (const char* pool : {"sg-tuas-1-h100", "sg-tuas-1-h200", "sg-jurong-1-h100",
                           "sg-jurong-1-h200", "my-sedenak-1-h100", "my-sedenak-1-h200"}) {
    EXPECT_TRUE(pools.count(pool)) << pool << " is not in the diff of hanshan-sg's leases";
  }
  // hanshan's own clusters are not remote access: not in the diff.
  for (const DiffRow& row : diff->rows) {
    if (const auto* lease = std::get_if<LeaseRequest>(&row.request)) {
      EXPECT_NE(lease->pool.str().rfind("cn-ulanqab-1", 0), 0u) << lease->org;
    }
  }
  std::string text = diff_to_text(*diff, shipped());
  EXPECT_NE(text.find("sg-tuas-1-h100"), std::string::npos);
  EXPECT_NE(text.find(rule.str()), std::string::npos);
  std::string json = diff_to_json(*diff, shipped());
  EXPECT_NE(json.find("\"hanshan-sg\""), std::string::npos);
  EXPECT_NE(json.find("\"2027-01-01T00:00:00Z\""), std::string::npos);
}

// Groups are products of their lists: expanding each back gives the rows.
TEST(DiffTest, GroupsCoverExactlyTheRows) {
  Engine base = load({});
  Engine with = load({"domestic-only-cn"});
  auto diff = diff_policies(shipped(), base, with, range(kFrom, kTo));
  ASSERT_TRUE(diff.has_value()) << diff.error().to_string();
  std::size_t expanded = 0;
  for (const DiffGroup& g : diff->groups) {
    auto n = [](const std::vector<std::string>& v) { return std::max<std::size_t>(v.size(), 1); };
    expanded += n(g.chips) * n(g.sites) * n(g.pools) * n(g.sources) * n(g.orgs) * n(g.datasets);
  }
  std::size_t rows = diff->rows.size();
  EXPECT_EQ(expanded, rows);
  EXPECT_LT(diff->groups.size(), rows) << "nothing was merged";
}

TEST(DiffTest, RefusesAnEmptyRange) {
  Engine base = load({});
  auto same = diff_policies(shipped(), base, base, range(kFrom, kFrom));
  ASSERT_FALSE(same.has_value());
  EXPECT_EQ(same.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(same.error().message().find("empty"), std::string::npos);
  EXPECT_FALSE(diff_policies(shipped(), base, base, range(kTo, kFrom)).has_value());
}

// An engine compiled against another catalog does not know its ids: refused,
// no diff.
TEST(DiffTest, RefusesEnginesOverAnotherCatalog) {
  static const catalog::Catalog minimal =
      *catalog::load_catalog(fs::path(STRAITS_TEST_DATA_DIR) / "catalogs" / "minimal");
  auto other = Engine::load(minimal, {});
  ASSERT_TRUE(other.has_value()) << other.error().to_string();
  Engine base = load({});
  auto diff = diff_policies(shipped(), base, *other, range(kFrom, kTo));
  ASSERT_FALSE(diff.has_value());
  EXPECT_EQ(diff.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(diff.error().message().find("with"), std::string::npos);
  // Both sides over the other catalog: refused too, not an empty diff.
  auto both = diff_policies(shipped(), *other, *other, range(kFrom, kTo));
  ASSERT_FALSE(both.has_value());
  EXPECT_EQ(both.error().code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace straits::policy
