// The default pack (rules/default) over a small catalog of edge cases
// (tests/data/catalogs/edges, with the shipped countries and groups): every
// dated measure changes some decision on its first day and not the day
// before (and back on its last); the thresholds at their edges (TPP 4,799 and
// 4,800; PD 5.91 and 5.92); Hong Kong and Macau; subsidiaries abroad of
// China-headquartered parents; the measures of the 2026-12-07 audit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/load.h"
#include "policy/engine.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;
const fs::path kSource(STRAITS_SOURCE_DIR);
const fs::path kEdges = fs::path(STRAITS_TEST_DATA_DIR) / "catalogs" / "edges";
constexpr Duration kDay = Duration::days(1);

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The edge catalog's files, with the shipped countries.yaml (the groups the
// pack names: D1, D4, D5, A5, A6, TIER1, CN_EAR).
const catalog::Catalog& edges() {
  static const catalog::Catalog c = [] {
    catalog::CatalogTexts texts{{"countries.yaml", read(kSource / "catalog" / "countries.yaml")}};
    for (const char* file : catalog::kCatalogFiles) {
      if (fs::exists(kEdges / file)) texts[file] = read(kEdges / file);
    }
    auto loaded = catalog::load_catalog(texts, "edges");
    if (!loaded) {
      ADD_FAILURE() << loaded.error().to_string();
      std::abort();
    }
    return *loaded;
  }();
  return c;
}

const Engine& pack() {
  static const Engine e = [] {
    auto loaded = Engine::load(edges(), {kSource / "rules" / "default"});
    if (!loaded) {
      ADD_FAILURE() << loaded.error().to_string();
      std::abort();
    }
    return *loaded;
  }();
  return e;
}

Instant day(const char* text) {
  return *parse_instant(text);
}

std::set<std::string> rules_at(const Engine& engine, const Subject& s, Instant at) {
  std::set<std::string> ids;
  for (const MatchedRule& m : engine.explain(s, at).rules) ids.insert(m.id.str());
  return ids;
}

// Every request over the edge catalog: each chip to each site, from its
// origin and from each site, into no pool or each pool of the site; each org
// on each pool (a lease, and a large training run with every dataset); each
// dataset to each site.
std::vector<Subject> every_subject(const Engine& engine) {
  const catalog::Catalog& cat = edges();
  std::vector<Request> requests;
  for (const auto& chip : cat.chips()) {
    for (const auto& site : cat.sites()) {
      std::vector<std::optional<PoolId>> pools{std::nullopt};
      for (const auto& pool : cat.pools()) {
        if (pool.site == site.id) pools.push_back(pool.id);
      }
      for (const auto& pool : pools) {
        requests.push_back(ShipRequest{chip.id, site.id, std::nullopt, pool, "", 1});
        for (const auto& from : cat.sites()) {
          requests.push_back(ShipRequest{chip.id, site.id, from.id, pool, "", 1});
        }
      }
    }
  }
  for (const auto& org : cat.orgs()) {
    for (const auto& pool : cat.pools()) {
      requests.push_back(LeaseRequest{org.id, pool.id, std::nullopt, std::nullopt, std::nullopt});
      RunRequest run{org.id, pool.id, JobSpec{}};
      run.job.training_flops = 1e27;
      for (const auto& d : cat.datasets()) run.job.datasets.push_back(d.id);
      requests.push_back(run);
    }
  }
  for (const auto& d : cat.datasets()) {
    for (const auto& site : cat.sites()) requests.push_back(TransferRequest{d.id, site.id, ""});
  }
  std::vector<Subject> subjects;
  for (const Request& r : requests) {
    auto s = engine.resolve(r);
    EXPECT_TRUE(s) << s.error().to_string();
    if (s) subjects.push_back(*s);
  }
  return subjects;
}

// The dated measures of the default pack: its rules' starts and ends. A rule
// added, removed or moved must be entered here, with its source's date.
struct Dated {
  const char* rule;
  const char* from;
  const char* until;  // "" for an open end
};
constexpr Dated kDatedMeasures[] = {
    {"cn.pipl.nov2021.personal-export", "2021-11-01", ""},
    {"us.letter.aug2022.nvidia-a100-h100", "2022-08-26", "2022-10-21"},
    {"cn.cac.sep2022.important-export", "2022-09-01", ""},
    {"us.3a090.oct2022.china", "2022-10-21", "2023-11-17"},
    {"us.3a090.oct2022.macau", "2023-01-17", "2023-11-17"},
    {"us.3a090.oct2023.export", "2023-11-17", ""},
    {"us.3a090.oct2023.headquarters", "2023-11-17", ""},
    {"us.3a090c.dec2024.hbm-copackaged", "2024-12-02", ""},
    {"us.diffusion.jan2025.worldwide-3a090a", "2025-01-13", "2025-05-13"},
    {"us.diffusion.jan2025.model-weights", "2025-01-13", "2025-05-13"},
    {"us.intel.apr2025.china", "2025-04-07", ""},
    {"us.h20.apr2025.china-d5", "2025-04-09", ""},
    {"us.guidance.may2025.iaas-red-flag", "2025-05-13", ""},
    {"us.guidance.may2025.prc-3a090", "2025-05-13", ""},
    {"my.sta.jul2025.ai-chips", "2025-07-14", ""},
    {"cn.h20.aug2025.discouraged", "2025-08-12", ""},
    {"cn.customs.jan2026.h200", "2026-01-14", ""},
    {"us.china.jan2026.case-by-case", "2026-01-15", ""},
    {"us.china.jan2026.reexport-denial", "2026-01-15", ""},
    {"us.china.jan2026.hq-abroad-denial", "2026-01-15", ""},
    {"us.tariff.jan2026.section232", "2026-01-15", ""},
};

TEST(DefaultPackTest, ItsDatesAreTheMeasuresDates) {
  std::set<std::tuple<std::string, Instant, bool>> expected, loaded;
  for (const Dated& d : kDatedMeasures) {
    expected.emplace(d.rule, day(d.from), true);
    if (*d.until != '\0') expected.emplace(d.rule, day(d.until), false);
  }
  for (const RuleChange& c : pack().rule_changes()) loaded.emplace(c.rule.str(), c.at, c.starts);
  EXPECT_EQ(loaded, expected);
  EXPECT_EQ(pack().rule_count(), std::size(kDatedMeasures));
}

// For each start (end) of a rule, some subject of the edge catalog has the
// rule among those that apply on that day (the day before) and not on the
// day before (that day): each date is exercised, not just written down.
TEST(DefaultPackTest, EachMeasureChangesADecisionOnItsDay) {
  const std::vector<Subject> subjects = every_subject(pack());
  ASSERT_GT(subjects.size(), 1000u);
  for (const RuleChange& change : pack().rule_changes()) {
    const std::string id = change.rule.str();
    bool seen = false;
    for (const Subject& s : subjects) {
      bool before = rules_at(pack(), s, change.at - kDay).count(id) > 0;
      bool after = rules_at(pack(), s, change.at).count(id) > 0;
      if (before != after && after == change.starts) {
        seen = true;
        break;
      }
    }
    EXPECT_TRUE(seen) << id << (change.starts ? " starts" : " ends") << " on "
                      << to_iso8601(change.at)
                      << " but no subject of the edge catalog sees the change";
  }
}

// One expected decision: the outcome, rules that must apply, rules that must not.
struct Expect {
  const char* name;
  Request request;
  const char* at;
  Outcome outcome;
  std::vector<std::string> applies;
  std::vector<std::string> absent;
};

void check(const Engine& engine, const Expect& e) {
  SCOPED_TRACE(e.name);
  auto s = engine.resolve(e.request);
  ASSERT_TRUE(s) << s.error().to_string();
  Decision d = engine.explain(*s, day(e.at));
  std::string why;
  for (const MatchedRule& m : d.rules) why += " " + m.id.str();
  EXPECT_EQ(d.outcome, e.outcome) << "rules:" << why;
  std::set<std::string> ids = rules_at(engine, *s, day(e.at));
  for (const std::string& id : e.applies) EXPECT_TRUE(ids.count(id)) << id << " not in" << why;
  for (const std::string& id : e.absent) EXPECT_FALSE(ids.count(id)) << id << " in" << why;
}

ShipRequest ship(const char* chip, const char* site, const char* from = nullptr,
                 const char* pool = nullptr) {
  ShipRequest r{ChipId(chip), SiteId(site), std::nullopt, std::nullopt, "", 1};
  if (from != nullptr) r.source_site = SiteId(from);
  if (pool != nullptr) r.pool = PoolId(pool);
  return r;
}

constexpr auto kAllow = Outcome::kAllow;
constexpr auto kLicence = Outcome::kLicenceRequired;

TEST(DefaultPackTest, ThresholdEdges) {
  const std::string exp = "us.3a090.oct2023.export",
                    diffusion = "us.diffusion.jan2025.worldwide-3a090a";
  // clang-format off
  for (const Expect& e : std::vector<Expect>{
           // TPP 4,800 is 3A090.a; at 4,799 (PD 1.2, below every .b band) nothing.
           {"TPP 4,799 to HK", ship("edge-tpp-4799", "edge-hk-site"), "2024-06-01", kAllow, {},
            {exp}},
           {"TPP 4,800 to HK", ship("edge-tpp-4800", "edge-hk-site"), "2024-06-01", kLicence,
            {exp}, {}},
           // PD 5.92 makes a TPP 2,960 chip 3A090.a; PD 5.91 leaves a TPP 2,955 chip .b.
           // Both need the Nov 2023 licence; only .a met the Diffusion rule's test.
           {"PD 5.91 to MY, Diffusion window", ship("edge-pd-591", "edge-my-site"), "2025-03-01",
            kAllow, {}, {diffusion}},
           {"PD 5.92 to MY, Diffusion window", ship("edge-pd-592", "edge-my-site"), "2025-03-01",
            kAllow, {diffusion}, {}},
           {"PD 5.91 to CN", ship("edge-pd-591", "edge-cn-site"), "2024-06-01", kLicence, {exp},
            {}},
           {"PD 5.92 to CN", ship("edge-pd-592", "edge-cn-site"), "2024-06-01", kLicence, {exp},
            {}},
           // The Intel letter's DRAM figure [S].
           {"Intel DRAM 1,399 GB/s to CN", ship("edge-intel-1399", "edge-cn-site"), "2025-06-01",
            kAllow, {}, {"us.intel.apr2025.china"}},
           {"Intel DRAM 1,400 GB/s to CN", ship("edge-intel-1400", "edge-cn-site"), "2025-06-01",
            kLicence, {"us.intel.apr2025.china"}, {}},
       }) {
    check(pack(), e);
  }
  // clang-format on
}

TEST(DefaultPackTest, HongKongAndMacau) {
  // clang-format off
  for (const Expect& e : std::vector<Expect>{
           {"A100 to HK under the Aug 2022 letter", ship("a100-sxm", "edge-hk-site"), "2022-09-01",
            kLicence, {"us.letter.aug2022.nvidia-a100-h100"}, {"us.3a090.oct2022.china"}},
           {"A100 to RU under the Aug 2022 letter", ship("a100-sxm", "edge-ru-site"), "2022-09-01",
            kLicence, {"us.letter.aug2022.nvidia-a100-h100"}, {}},
           {"A100 to MO before the letter reached it (never) and the Jan 2023 extension",
            ship("a100-sxm", "edge-mo-site"), "2023-01-16", kAllow, {}, {}},
           {"A100 to MO after the Jan 2023 extension", ship("a100-sxm", "edge-mo-site"),
            "2023-01-17", kLicence, {"us.3a090.oct2022.macau"}, {}},
           {"A100 to HK, Oct 2022 rule", ship("a100-sxm", "edge-hk-site"), "2023-01-17", kLicence,
            {"us.3a090.oct2022.china"}, {}},
           {"H20 to HK", ship("h20", "edge-hk-site"), "2025-06-01", kLicence,
            {"us.h20.apr2025.china-d5"}, {}},
           {"H20 to MO", ship("h20", "edge-mo-site"), "2025-06-01", kLicence,
            {"us.h20.apr2025.china-d5"}, {}},
           {"H200 to MO, 2024: licence", ship("h200", "edge-mo-site"), "2024-06-01", kLicence,
            {"us.3a090.oct2023.export"}, {}},
           // China's customs stance concerns the mainland only.
           {"H200 to HK, Feb 2026: no mainland import approval", ship("h200", "edge-hk-site"),
            "2026-02-01", kLicence, {"us.china.jan2026.case-by-case"},
            {"cn.customs.jan2026.h200"}},
           {"H200 to CN, Feb 2026: mainland import approval too", ship("h200", "edge-cn-site"),
            "2026-02-01", kLicence, {"cn.customs.jan2026.h200", "us.china.jan2026.case-by-case"},
            {}},
       }) {
    check(pack(), e);
  }
  // clang-format on
}

TEST(DefaultPackTest, SubsidiariesAbroadOfChinaHeadquarteredParents) {
  const std::string hq = "us.3a090.oct2023.headquarters";
  // clang-format off
  for (const Expect& e : std::vector<Expect>{
           // The site's operator is Singaporean and unparented: without a pool the
           // shipment is to it alone (SG is A:6: no licence).
           {"H200 to a Singapore site", ship("h200", "edge-sg-site"), "2024-06-01", kAllow, {},
            {hq}},
           // Into the own pool of a China-parented tenant: the consignee is caught.
           {"H200 into the pool of a Singapore child of a CN parent", ship("h200", "edge-sg-site",
            nullptr, "edge-sg-child-h200"), "2024-06-01", kLicence, {hq}, {}},
           {"H200 into the pool of a Malaysian grandchild of a CN parent", ship("h200",
            "edge-my-site", nullptr, "edge-my-grandchild-h200"), "2024-06-01", kLicence, {hq}, {}},
           {"H200 into the pool of an unrelated Singapore org", ship("h200", "edge-sg-site",
            nullptr, "edge-sg-sgorg-h200"), "2024-06-01", kAllow, {}, {hq}},
           {"H200 into a leased pool (no owner: the operator receives)", ship("h200",
            "edge-sg-site", nullptr, "edge-sg-leased-h200"), "2024-06-01", kAllow, {}, {hq}},
           {"H200 to a Singapore site of a China-parented operator", ship("h200",
            "edge-sg-sub-site"), "2024-06-01", kLicence, {hq}, {}},
           {"H20 into the pool of a Singapore child of a CN parent (H20 letter's 'therein')",
            ship("h20", "edge-sg-site", nullptr, "edge-sg-child-h200"), "2025-06-01", kLicence,
            {"us.h20.apr2025.china-d5"}, {}},
           {"H20 into the pool of an unrelated Singapore org", ship("h20", "edge-sg-site", nullptr,
            "edge-sg-sgorg-h200"), "2025-06-01", kAllow, {}, {"us.h20.apr2025.china-d5"}},
           {"Zone chip to a CN-parented consignee abroad, 2026: denial stays", ship("h200",
            "edge-sg-site", nullptr, "edge-sg-child-h200"), "2026-02-01", kLicence, {hq,
            "us.china.jan2026.hq-abroad-denial"}, {"us.china.jan2026.case-by-case"}},
           // Leasing abroad is a recorded red flag, not a requirement.
           {"Lease by the Singapore child of a leased pool",
            LeaseRequest{OrgId("edge-cn-child-sg"), PoolId("edge-sg-leased-h200"), std::nullopt,
            std::nullopt, std::nullopt}, "2025-06-01", kAllow,
            {"us.guidance.may2025.iaas-red-flag"}, {}},
           {"Lease by the HK child of a leased pool", LeaseRequest{OrgId("edge-cn-child-hk"),
            PoolId("edge-sg-leased-h200"), std::nullopt, std::nullopt, std::nullopt}, "2025-06-01",
            kAllow, {"us.guidance.may2025.iaas-red-flag"}, {}},
       }) {
    check(pack(), e);
  }
  // clang-format on
}

TEST(DefaultPackTest, TheAuditsCorrections) {
  const std::string cbc = "us.china.jan2026.case-by-case",
                    reexport = "us.china.jan2026.reexport-denial";
  // clang-format off
  for (const Expect& e : std::vector<Expect>{
           // AI Diffusion: compliance was never due; a record, not a licence.
           {"TPP 4,800 to MY in the Diffusion window", ship("edge-tpp-4800", "edge-my-site"),
            "2025-03-01", kAllow, {"us.diffusion.jan2025.worldwide-3a090a"}, {}},
           {"Training run over 1e26 in SG in the window", RunRequest{OrgId("edge-sg-org"),
            PoolId("edge-sg-leased-h200"), JobSpec{8, 1e27, "training", {}}}, "2025-03-01", kAllow,
            {"us.diffusion.jan2025.model-weights"}, {}},
           // Jan 2026: case by case only for exports from the US.
           {"H200 from the US (its origin) to CN", ship("h200", "edge-cn-site"), "2026-02-01",
            kLicence, {cbc}, {reexport}},
           {"H200 from the US site to CN", ship("h200", "edge-cn-site", "edge-us-site"),
            "2026-02-01", kLicence, {cbc}, {reexport}},
           {"H200 re-exported from SG to CN", ship("h200", "edge-cn-site", "edge-sg-site"),
            "2026-02-01", kLicence, {reexport}, {cbc}},
           {"H200 moved within CN", ship("h200", "edge-cn-site", "edge-cn-site"), "2026-02-01",
            kLicence, {reexport}, {cbc}},
           // The tariff: imports into the US from abroad only.
           {"H200 from SG into the US", ship("h200", "edge-us-site", "edge-sg-site"), "2026-02-01",
            kAllow, {"us.tariff.jan2026.section232"}, {}},
           {"H200 within the US", ship("h200", "edge-us-site"), "2026-02-01", kAllow, {},
            {"us.tariff.jan2026.section232"}},
           // PRC 3A090 ICs, whatever the vendor.
           {"PRC 3A090 part in SG", ship("edge-cn-3a090", "edge-sg-site"), "2025-06-01", kAllow,
            {"us.guidance.may2025.prc-3a090"}, {}},
           {"PRC part outside 3A090 in SG", ship("edge-cn-low", "edge-sg-site"), "2025-06-01",
            kAllow, {}, {"us.guidance.may2025.prc-3a090"}},
       }) {
    check(pack(), e);
  }
  // clang-format on
}

TEST(DefaultPackTest, MalaysiaAlignsScenario) {
  auto engine = Engine::load(
      edges(), {kSource / "rules" / "default", kSource / "rules" / "scenarios" / "malaysia-aligns"},
      {{"my_align_from", "2026-06-01"}});
  ASSERT_TRUE(engine) << engine.error().to_string();
  const std::string rule = "scenario.malaysia-aligns.hq-permit";
  const Request into_grandchild = ship("h200", "edge-my-site", nullptr, "edge-my-grandchild-h200");
  check(*engine, {"before the param's date", into_grandchild, "2026-05-31", kLicence, {}, {rule}});
  check(*engine, {"on it", into_grandchild, "2026-06-01", kLicence, {rule}, {}});
  check(*engine, {"to a Malaysian operator, no pool",
                  ship("h200", "edge-my-site"),
                  "2026-06-01",
                  kAllow,
                  {},
                  {rule}});
}

}  // namespace
}  // namespace straits::policy
