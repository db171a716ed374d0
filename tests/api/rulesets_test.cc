// Rule sets in the server (issue 17), against the real server (an SQLite
// file, the shipped catalog and default rules, real HTTP): the set made from
// --rules at the first start, a push checked against the catalog (422 with
// PACK/FILE:line:col, nothing stored), propose, adopt now (the rules swap
// with no restart and decisions name the new hash), adopt for a later
// instant (a running job's window closes then), adopt in the past (422),
// retire (never the only adopted set; the one in force hands back), and a
// restart that keeps what was adopted.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "api/server_fixture.h"
#include "policy/engine.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::at;
using testing_util::json;
using testing_util::TestServer;

// A pack that forbids every run on the Tuas H100 pool (Singapore).
constexpr const char* kCloseTuas = R"(rule test.close-tuas {
  title "Test: no runs on sg-tuas-1-h100"
  source "test"
  effective 2020-01-01 ..
  on run
  when pool.id == "sg-tuas-1-h100"
  then forbid
}
)";

class RulesetsTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  void TearDown() override { server_.stop(); }
  const std::string& admin() const { return server_.admin_token(); }

  // The shipped default pack, and `extra` (FILE -> TEXT) as a second pack.
  static json packs(const std::map<std::string, std::string>& extra) {
    auto sources = policy::read_pack_sources(
        {std::filesystem::path(STRAITS_SOURCE_DIR) / "rules" / "default"});
    EXPECT_TRUE(sources) << sources.error().to_string();
    json out = json::array();
    for (const policy::PackSource& pack : *sources) {
      json files = json::object();
      for (const auto& [file, text] : pack.files) files[file] = text;
      out.push_back({{"name", pack.name}, {"files", files}});
    }
    if (!extra.empty()) out.push_back({{"name", "extra"}, {"files", extra}});
    return out;
  }
  // Pushes, proposes and adopts default + close-tuas; returns the set.
  json adopt_close_tuas(const std::string& effective = "") {
    Answer pushed =
        server_.post("/v1/rulesets", admin(),
                     {{"name", "close-tuas"}, {"packs", packs({{"close.rules", kCloseTuas}})}});
    EXPECT_EQ(pushed.status, 201) << pushed.text;
    const std::string id = pushed.body.value("id", "");
    EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/propose", admin(), json()).status, 200);
    json body = json::object();
    if (!effective.empty()) body["effective"] = effective;
    Answer adopted = server_.post("/v1/rulesets/" + id + "/adopt", admin(), body);
    EXPECT_EQ(adopted.status, 200) << adopted.text;
    return adopted.body;
  }
  json run_on_tuas() {
    Answer a = server_.post("/v1/decisions", admin(),
                            {{"action", "run"}, {"org", "hanshan-sg"}, {"pool", "sg-tuas-1-h100"}});
    EXPECT_EQ(a.status, 200) << a.text;
    return a.body;
  }
  json sets(const std::string& query = "") {
    return server_.get("/v1/rulesets" + query, admin()).body["items"];
  }

  TestServer server_;
};

TEST_F(RulesetsTest, TheFirstStartAdoptsTheRulesGivenAndEveryDecisionNamesTheirHash) {
  const json all = sets();
  ASSERT_EQ(all.size(), 1u) << all.dump();
  EXPECT_EQ(all[0]["name"], "initial");
  EXPECT_EQ(all[0]["state"], "adopted");
  const std::string hash = all[0]["hash"];
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(run_on_tuas()["ruleset"], hash);
  // Every audit event names it, the seed's first ones included.
  const Answer audit = server_.get("/v1/audit?limit=1000", admin());
  ASSERT_FALSE(audit.body["items"].empty());
  for (const json& e : audit.body["items"]) {
    EXPECT_EQ(e["decision"].value("ruleset", ""), hash) << e.dump();
  }
}

TEST_F(RulesetsTest, AMalformedPackIsRefusedWithFileLineColumnAndNothingIsStored) {
  const std::string broken =
      "rule bad.one {\n  title \"x\"\n  source \"y\"\n"
      "  effective 2026-01-01 ..\n  on run\n  when org.hqq == \"CN\"\n"
      "  then forbid\n}\n";
  Answer a = server_.post("/v1/rulesets", admin(),
                          {{"name", "broken"}, {"packs", packs({{"bad.rules", broken}})}});
  ASSERT_EQ(a.status, 422) << a.text;
  const json problems = a.body["error"]["details"]["problems"];
  ASSERT_FALSE(problems.empty()) << a.text;
  const std::string first = problems[0];
  EXPECT_TRUE(std::regex_search(first, std::regex(R"(^extra/bad\.rules:6:\d+: .*org\.hqq)")))
      << first;
  EXPECT_EQ(sets().size(), 1u);
  // Not even a trace in the audit log: the one set created is the initial
  // one, stored at the first start.
  const Answer audit = server_.get("/v1/audit?limit=1000", admin());  // alive through the loop
  std::vector<std::string> created;
  for (const json& e : audit.body["items"]) {
    if (e["action"] == "ruleset.create") created.push_back(e.value("subject", ""));
  }
  EXPECT_EQ(created, std::vector<std::string>{"rulesets/rs-00000001"}) << audit.text;
}

TEST_F(RulesetsTest, AdoptingNowSwapsTheRulesWithoutARestart) {
  const json before = run_on_tuas();
  EXPECT_EQ(before["decision"], "allow") << before.dump();
  const json set = adopt_close_tuas();
  EXPECT_EQ(set["state"], "adopted");
  EXPECT_EQ(set["effective"], "2026-01-01T00:00:00Z");
  const json after = run_on_tuas();
  EXPECT_EQ(after["decision"], "deny") << after.dump();
  EXPECT_EQ(after["ruleset"], set["hash"]);
  EXPECT_NE(after["ruleset"], before["ruleset"]);
  // Audited, each step, by the admin.
  std::vector<std::string> actions;
  const std::string subject = "rulesets/" + set["id"].get<std::string>();
  const Answer audit = server_.get("/v1/audit?limit=1000", admin());
  for (const json& e : audit.body["items"]) {
    if (e["subject"] == subject) actions.push_back(e["action"]);
  }
  EXPECT_EQ(actions,
            (std::vector<std::string>{"ruleset.create", "ruleset.propose", "ruleset.adopt"}))
      << audit.text.substr(0, 2000);
  EXPECT_TRUE(server_.get("/v1/audit/verify", admin()).body.value("ok", false));
}

TEST_F(RulesetsTest, ASetAdoptedForLaterClosesARunningJobsWindowThen) {
  ASSERT_EQ(
      server_
          .lease("hanshan-sg", "sg-tuas-1-h100", 64, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z")
          .status,
      201);
  const std::string engineer = server_.make_user("li", "engineer", "hanshan-sg");
  Answer job = server_.post("/v1/jobs", engineer,
                            {{"team", "llm"},
                             {"gpus", 16},
                             {"work", 20000},
                             {"eligible_chips", {"h100-sxm"}},
                             {"checkpoint_gb", 100},
                             {"command", {"python", "train.py"}}});
  ASSERT_EQ(job.status, 201) << job.text;
  const std::string id = job.body["id"];
  ASSERT_TRUE(server_.server().schedule_now());
  Answer placed = server_.get("/v1/jobs/" + id, engineer);
  ASSERT_EQ(placed.body["state"], "assigned") << placed.text;
  EXPECT_EQ(placed.body["placement"]["ruleset"], sets()[0]["hash"]);
  // Nothing ahead of its expected end (2026-02-22) cuts it yet.
  EXPECT_TRUE(placed.body["placement"]["must_leave_by"].is_null()) << placed.text;

  const json set = adopt_close_tuas("2026-02-01T00:00:00Z");
  // Not yet in force: runs there are still allowed now.
  EXPECT_EQ(run_on_tuas()["decision"], "allow");
  ASSERT_TRUE(server_.server().schedule_now());
  Answer running = server_.get("/v1/jobs/" + id, engineer);
  EXPECT_EQ(running.body["state"], "assigned");
  EXPECT_EQ(running.body["placement"]["must_leave_by"], "2026-02-01T00:00:00Z") << running.text;

  // Checkpointed before the instant, moved at it.
  server_.clock().set(at("2026-01-31T23:59:50Z"));
  ASSERT_TRUE(server_.server().schedule_now());
  EXPECT_EQ(server_.get("/v1/jobs/" + id, engineer).body["state"], "checkpointing");
  server_.clock().set(at("2026-02-01T00:00:00Z"));
  auto move = server_.server().schedule_now();
  ASSERT_TRUE(move);
  EXPECT_EQ(move->moved, 1u);
  EXPECT_EQ(run_on_tuas()["ruleset"], set["hash"]);
}

TEST_F(RulesetsTest, TheHashIsTheContentsAndTheInitialSetIsTheRulesGiven) {
  const json initial = sets()[0];
  Answer same = server_.post("/v1/rulesets", admin(), {{"name", "again"}, {"packs", packs({})}});
  ASSERT_EQ(same.status, 201) << same.text;
  EXPECT_EQ(same.body["hash"], initial["hash"]);  // the name is not the contents
  std::string dated = kCloseTuas;
  dated.replace(dated.find("2020-01-01"), 10, "tuas_from");
  dated = "param tuas_from = 2020-01-01\n" + dated;
  const json with = packs({{"close.rules", dated}});
  Answer plain = server_.post("/v1/rulesets", admin(), {{"name", "p"}, {"packs", with}});
  Answer moved =
      server_.post("/v1/rulesets", admin(),
                   {{"name", "p"}, {"packs", with}, {"params", {{"tuas_from", "2026-06-01"}}}});
  ASSERT_EQ(plain.status, 201) << plain.text;
  ASSERT_EQ(moved.status, 201) << moved.text;
  EXPECT_NE(plain.body["hash"], initial["hash"]);
  EXPECT_NE(moved.body["hash"], plain.body["hash"]);  // the params are contents too
  // Adopted with its param: the rule bites from the param's date, not before.
  const std::string id = moved.body["id"];
  ASSERT_EQ(server_.post("/v1/rulesets/" + id + "/propose", admin(), json()).status, 200);
  Answer adopted = server_.post("/v1/rulesets/" + id + "/adopt", admin(), json::object());
  ASSERT_EQ(adopted.status, 200) << adopted.text;
  EXPECT_EQ(run_on_tuas()["decision"], "allow");
  server_.clock().set(at("2026-06-01T00:00:00Z"));
  EXPECT_EQ(run_on_tuas()["decision"], "deny");
  Answer shown = server_.get("/v1/rulesets/" + id, admin());
  EXPECT_EQ(shown.body["params"], json({{"tuas_from", "2026-06-01"}}));
  EXPECT_TRUE(shown.body["in_force"].get<bool>());
  EXPECT_EQ(plain.body["catalog_fingerprint"], initial["catalog_fingerprint"]);
  EXPECT_EQ(plain.body["catalog_fingerprint"].get<std::string>().size(), 64u);
}

TEST_F(RulesetsTest, AnAdoptionInThePastIsRefusedAndNothingChanges) {
  Answer pushed = server_.post("/v1/rulesets", admin(), {{"name", "late"}, {"packs", packs({})}});
  ASSERT_EQ(pushed.status, 201) << pushed.text;
  const std::string id = pushed.body["id"];
  // A draft is proposed first.
  EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/adopt", admin(), json::object()).status, 409);
  ASSERT_EQ(server_.post("/v1/rulesets/" + id + "/propose", admin(), json()).status, 200);
  Answer past = server_.post("/v1/rulesets/" + id + "/adopt", admin(),
                             {{"effective", "2025-06-01T00:00:00Z"}});
  EXPECT_EQ(past.status, 422) << past.text;
  EXPECT_NE(past.text.find("in the past"), std::string::npos) << past.text;
  EXPECT_EQ(server_.get("/v1/rulesets/" + id, admin()).body["state"], "proposed");
  EXPECT_EQ(sets("?state=adopted").size(), 1u);
}

TEST_F(RulesetsTest, RetiringTheOnlyAdoptedSetIsRefusedAndTheSetInForceHandsBack) {
  const json initial = sets()[0];
  Answer only =
      server_.post("/v1/rulesets/" + initial["id"].get<std::string>() + "/retire", admin(), json());
  EXPECT_EQ(only.status, 409) << only.text;
  EXPECT_NE(only.text.find("only adopted set"), std::string::npos) << only.text;
  EXPECT_EQ(sets("?state=adopted").size(), 1u);

  const json set = adopt_close_tuas();
  EXPECT_EQ(run_on_tuas()["decision"], "deny");
  Answer retired =
      server_.post("/v1/rulesets/" + set["id"].get<std::string>() + "/retire", admin(), json());
  ASSERT_EQ(retired.status, 200) << retired.text;
  EXPECT_EQ(retired.body["state"], "retired");
  const json back = run_on_tuas();
  EXPECT_EQ(back["decision"], "allow");
  EXPECT_EQ(back["ruleset"], initial["hash"]);
}

TEST_F(RulesetsTest, ARestartKeepsTheAdoptedSetsInForce) {
  const json set = adopt_close_tuas();
  server_.stop();
  server_.start();
  EXPECT_EQ(sets("?state=adopted").size(), 2u);
  const json after = run_on_tuas();
  EXPECT_EQ(after["decision"], "deny");
  EXPECT_EQ(after["ruleset"], set["hash"]);
  EXPECT_TRUE(server_.get("/v1/audit/verify", admin()).body.value("ok", false));
}

}  // namespace
}  // namespace straits::api
