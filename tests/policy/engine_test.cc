// Semantics of decisions on small packs written by the test, over the
// minimal catalog (tests/data/catalogs/minimal): the arithmetic of each
// expectation is next to it.
#include "policy/engine.h"

#include <gtest/gtest.h>

#include "catalog/load.h"
#include "policy/minimal_catalog.h"
#include "policy/temp_dir.h"

namespace straits::policy {
namespace {

using testing_util::TempDir;

const catalog::Catalog& minimal() {
  return testing_util::minimal_catalog();
}

Instant day(const char* text) {
  return *parse_instant(text);
}

Engine load(const TempDir& dir, const ParamOverrides& params = {}) {
  auto engine = Engine::load(minimal(), {dir.path()}, params);
  if (!engine) ADD_FAILURE() << engine.error().to_string();
  return std::move(engine).value();
}

std::vector<std::string> ids(const Decision& d) {
  std::vector<std::string> out;
  for (const auto& m : d.rules) out.push_back(m.id.str() + ":" + std::string(to_string(m.effect)));
  return out;
}

const char* kLayers = R"(
rule a.record { title "always" source "S" effective 2020-01-01 .. on lease
  then record "keep a note" }
rule b.licence { title "licence for D5-parented orgs" source "S" effective 2023-11-17 .. on lease
  when org.parent_hq in group D5 then require licence "US-EAR-3A090" }
rule c.forbid { title "closed" source "S" effective 2027-01-01 .. 2028-01-01 on lease
  when chip.tpp >= 4800 then forbid }
)";

TEST(EngineTest, ForbidBeatsLicenceBeatsAllow) {
  TempDir dir("layers");
  dir.write("a.rules", kLayers);
  Engine engine = load(dir);
  LeaseRequest lease{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), {}, {}, {}};
  // 2022: only the record applies -> allow, with its obligation.
  auto d2022 = engine.decide(lease, day("2022-06-01"));
  ASSERT_TRUE(d2022);
  EXPECT_EQ(d2022->outcome, Outcome::kAllow);
  EXPECT_EQ(ids(*d2022), std::vector<std::string>{"a.record:record"});
  EXPECT_EQ(d2022->obligations, std::vector<std::string>{"keep a note"});
  // hanshan-sg -> hanshan-hk -> hanshan (CN, in D5): the licence rule applies from 2023-11-17.
  EXPECT_EQ(d2022->valid_until, day("2023-11-17"));
  auto d2024 = engine.decide(lease, day("2024-01-01"));
  EXPECT_EQ(d2024->outcome, Outcome::kLicenceRequired);
  EXPECT_EQ(d2024->valid_until, day("2027-01-01"));
  // 2027: forbid beats the unlifted licence requirement.
  auto d2027 = engine.decide(lease, day("2027-06-01"));
  EXPECT_EQ(d2027->outcome, Outcome::kDeny);
  EXPECT_EQ(ids(*d2027), (std::vector<std::string>{"a.record:record", "b.licence:require_licence",
                                                   "c.forbid:forbid"}));
  // [from, until): the forbid ends at 2028-01-01 exactly.
  EXPECT_EQ(engine.decide(lease, day("2028-01-01") - Duration::seconds(1))->outcome,
            Outcome::kDeny);
  EXPECT_EQ(engine.decide(lease, day("2028-01-01"))->outcome, Outcome::kLicenceRequired);
  // The fast path agrees.
  auto subject = engine.resolve(lease);
  ASSERT_TRUE(subject);
  EXPECT_EQ(engine.evaluate(*subject, day("2022-06-01")), Outcome::kAllow);
  EXPECT_EQ(engine.evaluate(*subject, day("2024-01-01")), Outcome::kLicenceRequired);
  EXPECT_EQ(engine.evaluate(*subject, day("2027-06-01")), Outcome::kDeny);
}

TEST(EngineTest, AHeldLicenceInScopeLiftsTheRequirementWhileValid) {
  TempDir dir("licence");
  dir.write("a.rules", R"(
rule hq { title "HQ rule" source "S" effective 2023-11-17 .. on ship
  when operator.parent_hq in group D5 and chip.tpp >= 4800 then require licence "US-EAR-3A090" })");
  Engine engine = load(dir);
  // sg-jurong-1 is run by kestrel-sg, whose parent kestrel-holdings is in CN (D5).
  // kestrel-sg holds lic-kestrel-sg-3a090: US-EAR-3A090, h100-sxm to SG, [2024-03-01, 2025-03-01).
  ShipRequest h100{ChipId("h100-sxm"), SiteId("sg-jurong-1"), {}, {}, "", 1};
  auto in_validity = engine.decide(h100, day("2024-06-01"));
  ASSERT_TRUE(in_validity);
  EXPECT_EQ(in_validity->outcome, Outcome::kAllow);
  ASSERT_EQ(in_validity->rules.size(), 1u);
  EXPECT_EQ(in_validity->rules[0].lifted_by, LicenceId("lic-kestrel-sg-3a090"));
  EXPECT_EQ(in_validity->licences, std::vector<LicenceId>{LicenceId("lic-kestrel-sg-3a090")});
  EXPECT_EQ(in_validity->valid_until, day("2025-03-01"));  // the licence expires
  EXPECT_EQ(engine.decide(h100, day("2025-03-01"))->outcome, Outcome::kLicenceRequired);
  EXPECT_EQ(engine.decide(h100, day("2024-02-29"))->outcome, Outcome::kLicenceRequired);
  // The A800 is outside the licence's chip scope.
  ShipRequest a800{ChipId("a800"), SiteId("sg-jurong-1"), {}, {}, "", 1};
  EXPECT_EQ(engine.decide(a800, day("2024-06-01"))->outcome, Outcome::kLicenceRequired);
  // lionpoint's site: its operator has no D5 parent; the rule does not apply.
  ShipRequest elsewhere{ChipId("h100-sxm"), SiteId("sg-tuas-1"), {}, {}, "", 1};
  EXPECT_TRUE(engine.decide(elsewhere, day("2024-06-01"))->rules.empty());
}

TEST(EngineTest, RunRulesOverDatasetsApplyWhenAnyDatasetMatches) {
  TempDir dir("datasets");
  dir.write("a.rules", R"(
rule cac { title "PI export" source "PIPL art. 38" effective 2021-11-01 .. on run, transfer
  when dataset.origin == "CN" and dataset.class == "personal" and site.country != "CN"
  then require licence "CN-CAC-PI-EXPORT" })");
  Engine engine = load(dir);
  JobSpec with_data{64, 1e24, "training", {DatasetId("hanshan-dialogues")}};
  JobSpec no_data{64, 1e24, "training", {}};
  RunRequest run{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), with_data};
  EXPECT_EQ(engine.decide(run, day("2025-01-01"))->outcome, Outcome::kLicenceRequired);
  run.job = no_data;
  EXPECT_EQ(engine.decide(run, day("2025-01-01"))->outcome, Outcome::kAllow);
  TransferRequest transfer{DatasetId("hanshan-dialogues"), SiteId("sg-tuas-1"), ""};
  EXPECT_EQ(engine.decide(transfer, day("2025-01-01"))->outcome, Outcome::kLicenceRequired);
  EXPECT_EQ(engine.decide(transfer, day("2021-10-31"))->outcome, Outcome::kAllow);
}

TEST(EngineTest, ScenarioPacksReplaceRulesAndMoveTheirDates) {
  TempDir base("base"), scenario("scenario");
  base.write("a.rules", kLayers);
  scenario.write("s.rules", R"(
param close_from = 2030-01-01
rule c.forbid { title "closed, moved" source "S" replaces c.forbid effective close_from .. on lease
  then forbid })");
  auto engine = Engine::load(minimal(), {base.path(), scenario.path()});
  ASSERT_TRUE(engine) << engine.error().to_string();
  LeaseRequest lease{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), {}, {}, {}};
  // The base's 2027 forbid is replaced by the scenario's from 2030.
  EXPECT_EQ(engine->decide(lease, day("2027-06-01"))->outcome, Outcome::kLicenceRequired);
  EXPECT_EQ(engine->decide(lease, day("2030-06-01"))->outcome, Outcome::kDeny);
  EXPECT_EQ(engine->rule_count(), 3u);
  auto moved =
      Engine::load(minimal(), {base.path(), scenario.path()}, {{"close_from", "2026-07-01"}});
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->decide(lease, day("2026-08-01"))->outcome, Outcome::kDeny);
  auto bad = Engine::load(minimal(), {base.path(), scenario.path()}, {{"close_fro", "2026-07-01"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("did you mean 'close_from'"), std::string::npos);
}

TEST(EngineTest, ListsEveryRuleStartAndEndInOrder) {
  TempDir base("base"), scenario("scenario");
  base.write("a.rules", kLayers);
  scenario.write("s.rules", R"(
param close_from = 2030-01-01
rule c.forbid { title "closed, moved" source "S" replaces c.forbid effective close_from .. on lease
  then forbid }
rule d.same-day { title "ends as c starts" source "S" effective 2029-01-01 .. 2030-01-01 on run
  then record "x" })");
  auto engine = Engine::load(minimal(), {base.path(), scenario.path()});
  ASSERT_TRUE(engine) << engine.error().to_string();
  auto changes = engine->rule_changes();
  const std::string base_pack = base.path().filename().string();
  const std::string scenario_pack = scenario.path().filename().string();
  // a 2020 start; b 2023 start; d 2029 start; at 2030-01-01 d ends before c
  // (the replacement, its base's 2027-2028 range gone) starts.
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[0],
            (RuleChange{day("2020-01-01"), true, RuleId("a.record"), "always", base_pack, "S"}));
  EXPECT_EQ(changes[1].rule.str(), "b.licence");
  EXPECT_EQ(changes[2].rule.str(), "d.same-day");
  EXPECT_EQ(changes[3], (RuleChange{day("2030-01-01"), false, RuleId("d.same-day"),
                                    "ends as c starts", scenario_pack, "S"}));
  EXPECT_EQ(changes[4], (RuleChange{day("2030-01-01"), true, RuleId("c.forbid"), "closed, moved",
                                    scenario_pack, "S"}));
}

TEST(EngineTest, NamedConditionsAreSharedAcrossPacks) {
  TempDir base("cond-base"), scenario("cond-scenario");
  base.write("a.rules", R"(
condition advanced = chip.tpp >= 4800 or (chip.tpp >= 1600 and chip.pd >= 5.92)
condition d5_parent = org.parent_hq in group D5
rule base.flag { title "t" source "S" effective 2020-01-01 .. on lease
  when advanced and d5_parent then record "flag" })");
  scenario.write("s.rules", R"(
rule scenario.close { title "t" source "S" effective 2027-01-01 .. on lease
  when advanced and not d5_parent then forbid })");
  auto engine = Engine::load(minimal(), {base.path(), scenario.path()});
  ASSERT_TRUE(engine) << engine.error().to_string();
  // hanshan-sg's ultimate parent is in CN (D5): flagged, and not closed.
  auto d = engine->decide(LeaseRequest{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), {}, {}, {}},
                          day("2027-06-01"));
  EXPECT_EQ(d->outcome, Outcome::kAllow);
  EXPECT_EQ(ids(*d), std::vector<std::string>{"base.flag:record"});
}

TEST(EngineTest, UnknownIdsAndBadRequestsAreErrorsNotDecisions) {
  TempDir dir("ids");
  dir.write("a.rules", kLayers);
  Engine engine = load(dir);
  auto no_org = engine.resolve(LeaseRequest{OrgId("nobody"), PoolId("sg-tuas-1-h100"), {}, {}, {}});
  ASSERT_FALSE(no_org);
  EXPECT_EQ(no_org.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(no_org.error().message(), "no org 'nobody' in the catalog");
  auto too_big =
      engine.resolve(LeaseRequest{OrgId("hanshan"), PoolId("sg-tuas-1-h100"), 10000, {}, {}});
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), ErrorCode::kInvalidArgument);
  auto no_chip = engine.resolve(ShipRequest{ChipId("h20"), SiteId("sg-tuas-1"), {}, {}, "", 1});
  ASSERT_FALSE(no_chip);
  auto bad_by = engine.resolve(ShipRequest{ChipId("a800"), SiteId("sg-tuas-1"), {}, {}, "who", 1});
  ASSERT_FALSE(bad_by);
}

TEST(EngineTest, ComparisonsListsAndNegations) {
  TempDir dir("exprs");
  dir.write("a.rules", R"(
rule x.list { title "t" source "S" effective 2020-01-01 .. on ship
  when site.country in ["SG", "MY"] and chip.id not in ["a800"] and not (chip.tpp < 4800)
  then record "listed" }
rule x.attrs { title "t" source "S" effective 2020-01-01 .. on ship
  when operator.hq == site.country and now >= 2025-01-01 and ship.quantity > 1_000
  then record "same country, big" })");
  Engine engine = load(dir);
  ShipRequest r{ChipId("h100-sxm"), SiteId("sg-tuas-1"), {}, {}, "", 1};
  EXPECT_EQ(ids(*engine.decide(r, day("2024-01-01"))), std::vector<std::string>{"x.list:record"});
  r.quantity = 1001;
  // lionpoint is headquartered in SG, like its site; 1001 > 1000; from 2025.
  EXPECT_EQ(ids(*engine.decide(r, day("2024-01-01"))), std::vector<std::string>{"x.list:record"});
  EXPECT_EQ(ids(*engine.decide(r, day("2025-01-01"))),
            (std::vector<std::string>{"x.attrs:record", "x.list:record"}));
  r.chip = ChipId("a800");
  EXPECT_EQ(ids(*engine.decide(r, day("2025-01-01"))), std::vector<std::string>{"x.attrs:record"});
}

TEST(EngineTest, ExportsExactCedarPolicies) {
  TempDir dir("cedar");
  dir.write("a.rules", kLayers);
  dir.write("b.rules", R"(
rule d.pd { title "pd" source "S" effective 2020-01-01 .. on lease
  when chip.pd >= 5.92 and org.hq not in group D5 then forbid })");
  Engine engine = load(dir);
  auto cedar = engine.to_cedar({Action::kLease});
  ASSERT_TRUE(cedar) << cedar.error().to_string();
  // Records have no Cedar meaning; the licence rule becomes forbid-unless-held.
  EXPECT_EQ(cedar->find("a.record"), std::string::npos);
  EXPECT_NE(cedar->find("unless { context.licences.contains(\"US-EAR-3A090\") }"),
            std::string::npos);
  // 4800 is whole at scale 10^-2 (48), encoded doubled: 96. 5.92 at 10^2: 592 -> 1184.
  EXPECT_NE(cedar->find("(context.chip_tpp >= 96)"), std::string::npos) << *cedar;
  EXPECT_NE(cedar->find("(context.chip_pd >= 1184)"), std::string::npos) << *cedar;
  EXPECT_NE(cedar->find("![\"CN\", \"HK\"].contains(context.org_hq)"), std::string::npos);
  // H100 SXM: TPP 15832 -> 158.32 at 10^-2 -> 2*158+1 = 317; PD 19.449.. -> 1944.9 -> 3889.
  auto subject =
      engine.resolve(LeaseRequest{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), {}, {}, {}});
  std::string context = engine.cedar_context(*subject, day("2024-06-01"));
  EXPECT_NE(context.find("\"chip_tpp\":317"), std::string::npos) << context;
  EXPECT_NE(context.find("\"chip_pd\":3889"), std::string::npos) << context;
  EXPECT_NE(context.find("\"org_parent_hq\":\"CN\""), std::string::npos) << context;
  EXPECT_NE(context.find("\"licences\":[]"), std::string::npos) << context;
}

}  // namespace
}  // namespace straits::policy
