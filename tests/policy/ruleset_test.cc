// Rule sets as text and as a timeline (Engine::load_sources, load_timeline):
// what a server adopts while it runs. Over the minimal catalog
// (tests/data/catalogs/minimal): hanshan-sg's parent chain ends at hanshan,
// headquartered in China (D:5).
#include <gtest/gtest.h>

#include "catalog/load.h"
#include "policy/engine.h"
#include "policy/minimal_catalog.h"
#include "policy/temp_dir.h"

namespace straits::policy {
namespace {

using testing_util::TempDir;

const catalog::Catalog& minimal() {
  return testing_util::minimal_catalog();
}

Instant at(const char* text) {
  return *parse_instant(text);
}

const char* kBase = R"(
rule base.record { title "always" source "S" effective 2020-01-01 .. on lease, run
  then record "keep a note" }
)";

// Closes remote access for D:5-parented orgs at an instant, not a midnight.
const char* kClose = R"(
param close_from = 2026-12-07T21:30:00Z
rule close.lease { title "closed" source "S" effective close_from .. on lease, run
  when org.parent_hq in group D5 then forbid }
)";

const LeaseRequest kLease{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), {}, {}, {}};

PackSource pack(const char* name, const char* file, const char* text) {
  return PackSource{name, {{file, text}}};
}

TEST(RuleSetTest, PacksGivenAsTextDecideAsTheSameFoldersDo) {
  TempDir base("base"), close("close");
  base.write("base.rules", kBase);
  close.write("close.rules", kClose);
  auto from_dirs = Engine::load(minimal(), {base.path(), close.path()});
  ASSERT_TRUE(from_dirs) << from_dirs.error().to_string();
  auto read = read_pack_sources({base.path(), close.path()});
  ASSERT_TRUE(read) << read.error().to_string();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].files.at(0).first, "close.rules");
  auto from_text = Engine::load_sources(minimal(), *read);
  ASSERT_TRUE(from_text) << from_text.error().to_string();
  for (const char* when : {"2026-12-07T21:29:59Z", "2026-12-07T21:30:00Z", "2027-06-01"}) {
    auto a = from_dirs->decide(kLease, at(when));
    auto b = from_text->decide(kLease, at(when));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->outcome, b->outcome) << when;
    EXPECT_EQ(a->rules.size(), b->rules.size()) << when;
    EXPECT_EQ(b->ruleset, "") << "an engine outside a timeline names no rule set";
  }
}

TEST(RuleSetTest, AParamOrEffectiveDateMayBeAnInstantAndBitesAtThatSecond) {
  auto engine = Engine::load_sources(minimal(), {pack("close", "close.rules", kClose)});
  ASSERT_TRUE(engine) << engine.error().to_string();
  auto subject = engine->resolve(kLease);
  ASSERT_TRUE(subject);
  EXPECT_EQ(engine->evaluate(*subject, at("2026-12-07T21:29:59Z")), Outcome::kAllow);
  EXPECT_EQ(engine->evaluate(*subject, at("2026-12-07T21:30:00Z")), Outcome::kDeny);
  EXPECT_EQ(engine->next_change_after(*subject, at("2026-12-01")), at("2026-12-07T21:30:00Z"));
  // An override may be an instant too.
  auto moved = Engine::load_sources(minimal(), {pack("close", "close.rules", kClose)},
                                    {{"close_from", "2026-12-07T22:00:00Z"}});
  ASSERT_TRUE(moved) << moved.error().to_string();
  EXPECT_EQ(moved->evaluate(*subject, at("2026-12-07T21:59:59Z")), Outcome::kAllow);
  EXPECT_EQ(moved->evaluate(*subject, at("2026-12-07T22:00:00Z")), Outcome::kDeny);
  // An instant must be UTC, with its Z.
  auto no_zone = Engine::load_sources(
      minimal(), {pack("bad", "bad.rules",
                       "rule x { title \"t\" source \"s\" effective 2026-12-07T21:30:00 .. "
                       "on lease then record \"r\" }")});
  ASSERT_FALSE(no_zone);
  EXPECT_NE(no_zone.error().to_string().find("bad/bad.rules:1:"), std::string::npos)
      << no_zone.error().to_string();
}

TEST(RuleSetTest, ErrorsInAPackGivenAsTextNamePackFileLineAndColumn) {
  auto broken = Engine::load_sources(
      minimal(), {pack("base", "base.rules", kBase),
                  pack("mine", "typo.rules",
                       "\nrule y { title \"t\" source \"s\" effective 2026-01-01 .. on lease\n"
                       "  when chip.tpp >= 4800 and org.hqq == \"CN\" then forbid }\n")});
  ASSERT_FALSE(broken);
  const std::string text = broken.error().to_string();
  EXPECT_NE(text.find("mine/typo.rules:3:"), std::string::npos) << text;
  EXPECT_NE(text.find("org.hqq"), std::string::npos) << text;
  auto empty = Engine::load_sources(minimal(), {PackSource{"nothing", {}}});
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().to_string().find("no *.rules files"), std::string::npos);
}

std::vector<RuleSetSource> two_sets() {
  // The second set, adopted for 2026-12-07T21:30Z, adds the closing rule
  // (its own date already passed: the set's adoption is what bites).
  return {RuleSetSource{"hash-a", Instant::min(), {pack("base", "base.rules", kBase)}, {}},
          RuleSetSource{"hash-b",
                        at("2026-12-07T21:30:00Z"),
                        {pack("base", "base.rules", kBase), pack("close", "close.rules", kClose)},
                        {{"close_from", "2026-01-01"}}}};
}

TEST(RuleSetTest, ATimelineDecidesEachInstantUnderTheSetInForceAndNamesItsHash) {
  auto engine = Engine::load_timeline(minimal(), two_sets());
  ASSERT_TRUE(engine) << engine.error().to_string();
  auto subject = engine->resolve(kLease);
  ASSERT_TRUE(subject);
  const Instant before = at("2026-12-07T21:29:59Z"), adopted = at("2026-12-07T21:30:00Z");
  EXPECT_EQ(engine->evaluate(*subject, before), Outcome::kAllow);
  EXPECT_EQ(engine->evaluate(*subject, adopted), Outcome::kDeny);
  EXPECT_EQ(engine->ruleset_at(before), "hash-a");
  EXPECT_EQ(engine->ruleset_at(adopted), "hash-b");
  EXPECT_EQ(engine->ruleset_at(Instant::min()), "hash-a");
  Decision d = engine->decide(*subject, before);
  EXPECT_EQ(d.ruleset, "hash-a");
  EXPECT_EQ(d.outcome, Outcome::kAllow);
  // Foresight: the adoption is the next change, as a dated rule would be.
  EXPECT_EQ(d.valid_until, adopted);
  EXPECT_EQ(engine->next_change_after(*subject, at("2026-01-01")), adopted);
  Decision after = engine->decide(*subject, adopted);
  EXPECT_EQ(after.ruleset, "hash-b");
  EXPECT_EQ(after.outcome, Outcome::kDeny);
  EXPECT_EQ(after.valid_until, Instant::max());
  const auto points = engine->change_points();
  EXPECT_NE(std::find(points.begin(), points.end(), adopted), points.end());
  // Reports: the closing rule starts at the adoption (its own 2026-01-01
  // was under another set); the base rule, in both sets, does not restart.
  std::vector<std::string> changes;
  for (const auto& c : engine->rule_changes()) {
    changes.push_back(to_iso8601(c.at) + (c.starts ? " + " : " - ") + c.rule.str());
  }
  EXPECT_EQ(changes, (std::vector<std::string>{"2020-01-01T00:00:00Z + base.record",
                                               "2026-12-07T21:30:00Z + close.lease"}));
}

TEST(RuleSetTest, ASubjectResolvedOnceMeansTheSameTextsInEverySet) {
  // Each set compiles its own literals; a symbol must not mean "inference"
  // in one set and "training" in the other.
  const char* first = R"(
rule p.inference { title "t" source "s" effective 2020-01-01 .. on run
  when job.purpose == "inference" then forbid }
)";
  const char* second = R"(
rule q.other { title "t" source "s" effective 2020-01-01 .. on run
  when job.purpose == "fine-tuning" then forbid }
rule p.training { title "t" source "s" effective 2020-01-01 .. on run
  when job.purpose == "training" then forbid }
)";
  auto engine = Engine::load_timeline(
      minimal(), {RuleSetSource{"one", Instant::min(), {pack("one", "p.rules", first)}, {}},
                  RuleSetSource{"two", at("2026-06-01"), {pack("two", "p.rules", second)}, {}}});
  ASSERT_TRUE(engine) << engine.error().to_string();
  RunRequest training{OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), JobSpec{}};
  training.job.purpose = "training";
  RunRequest inference = training;
  inference.job.purpose = "inference";
  auto t = engine->resolve(training), i = engine->resolve(inference);
  ASSERT_TRUE(t && i);
  EXPECT_EQ(engine->evaluate(*t, at("2026-01-01")), Outcome::kAllow);
  EXPECT_EQ(engine->evaluate(*i, at("2026-01-01")), Outcome::kDeny);
  EXPECT_EQ(engine->evaluate(*t, at("2026-07-01")), Outcome::kDeny);
  EXPECT_EQ(engine->evaluate(*i, at("2026-07-01")), Outcome::kAllow);
}

TEST(RuleSetTest, ATimelineRefusesNoSetsSetsOutOfOrderAndNamesTheBrokenSet) {
  EXPECT_FALSE(Engine::load_timeline(minimal(), {}));
  auto sets = two_sets();
  std::swap(sets[0], sets[1]);
  sets[1].from = at("2026-01-01");
  auto disordered = Engine::load_timeline(minimal(), sets);
  ASSERT_FALSE(disordered);
  EXPECT_NE(disordered.error().to_string().find("not after the set before it"), std::string::npos)
      << disordered.error().to_string();
  sets = two_sets();
  sets[1].packs[1].files[0].second = "rule broken {";
  auto broken = Engine::load_timeline(minimal(), sets);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().to_string().find("rule set hash-b"), std::string::npos)
      << broken.error().to_string();
  EXPECT_NE(broken.error().to_string().find("close/close.rules:1:"), std::string::npos)
      << broken.error().to_string();
}

}  // namespace
}  // namespace straits::policy
