// Attacks on rule sets (issue 17), against the real server (the shipped
// catalog and default rules, an SQLite file, real HTTP):
//  - tenants, operators and auditors changing the rules in force, or
//    tenants reading a draft before it is adopted;
//  - hostile packs: a file over the cap, thousands of files, '../' and NUL
//    in names, a body nested thousands deep: each a 4xx, the server still
//    answering and still starting on its store afterwards;
//  - a pack that is valid text but attacks the compiler (a condition
//    parenthesised 10,000 deep): refused, not a crash.
#include <gtest/gtest.h>

#include <string>

#include "api/server_fixture.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::json;
using testing_util::TestServer;

constexpr const char* kRule = R"(rule test.one {
  title "Test"
  source "test"
  effective 2020-01-01 ..
  on run
  when pool.id == "sg-tuas-1-h100"
  then forbid
}
)";

class RulesetAttack : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  void TearDown() override { server_.stop(); }
  const std::string& admin() const { return server_.admin_token(); }
  static json push_body(const json& files, const std::string& pack = "p") {
    return {{"name", "attack"}, {"packs", {{{"name", pack}, {"files", files}}}}};
  }
  // A set pushed and proposed by the admin.
  std::string proposed() {
    Answer a = server_.post("/v1/rulesets", admin(), push_body({{"one.rules", kRule}}));
    EXPECT_EQ(a.status, 201) << a.text;
    const std::string id = a.body.value("id", "");
    EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/propose", admin(), json()).status, 200);
    return id;
  }
  std::size_t stored() { return server_.get("/v1/rulesets", admin()).body["items"].size(); }
  // The server answers, and starts again on its store.
  void still_serves() {
    EXPECT_EQ(server_.get("/healthz", "").status, 200);
    server_.stop();
    server_.start();
    EXPECT_EQ(server_.get("/v1/rulesets?state=adopted", admin()).body["items"].size(), 1u);
  }

  TestServer server_;
};

TEST_F(RulesetAttack, OnlyAdminAndComplianceChangeTheRules) {
  const std::string id = proposed();
  const std::string tenant = server_.make_user("t", "tenant-admin", "hanshan-sg");
  const std::string engineer = server_.make_user("e", "engineer", "hanshan-sg");
  const std::string auditor = server_.make_user("a", "auditor");
  const std::string op = server_.make_user("o", "operator-admin", "", "lionpoint");
  for (const std::string& token : {tenant, engineer, auditor, op}) {
    EXPECT_EQ(server_.post("/v1/rulesets", token, push_body({{"one.rules", kRule}})).status, 403);
    EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/propose", token, json()).status, 403);
    EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/adopt", token, json::object()).status, 403);
    EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/retire", token, json()).status, 403);
  }
  EXPECT_EQ(server_.get("/v1/rulesets/" + id, admin()).body["state"], "proposed");
  const std::string compliance = server_.make_user("c", "compliance");
  Answer adopted = server_.post("/v1/rulesets/" + id + "/adopt", compliance, json::object());
  EXPECT_EQ(adopted.status, 200) << adopted.text;
}

TEST_F(RulesetAttack, TenantsReadTheRulesInForceButNotDrafts) {
  const std::string id = proposed();
  const std::string engineer = server_.make_user("e", "engineer", "hanshan-sg");
  EXPECT_EQ(server_.get("/v1/rulesets/" + id, engineer).status, 404);
  const json seen = server_.get("/v1/rulesets", engineer).body["items"];
  ASSERT_EQ(seen.size(), 1u) << seen.dump();
  EXPECT_EQ(seen[0]["state"], "adopted");
  // The rules in force, with their files and dates.
  Answer in_force = server_.get("/v1/rulesets/" + seen[0]["id"].get<std::string>(), engineer);
  EXPECT_EQ(in_force.status, 200);
  EXPECT_FALSE(in_force.body["packs"][0]["files"].empty());
  EXPECT_EQ(server_.get("/v1/rulesets/" + id, server_.make_user("a", "auditor")).status, 200);
}

TEST_F(RulesetAttack, HostilePacksGetA4xxAndTheServerKeepsRunning) {
  const std::string huge(900 << 10, 'x');  // under the body cap, over a file's
  const std::vector<json> bodies = {
      push_body({{"big.rules", huge}}),
      push_body({{"../escape.rules", kRule}}),
      push_body({{"a/b.rules", kRule}}),
      push_body({{std::string("nul\0.rules", 10), kRule}}),
      push_body({{"nul.rules", std::string("rule x {\0}", 10)}}),
      push_body({{"one.rules", kRule}}, "../up"),
      push_body({{"notrules.txt", kRule}}),
  };
  for (const json& body : bodies) {
    Answer a = server_.post("/v1/rulesets", admin(), body);
    EXPECT_GE(a.status, 400) << a.text.substr(0, 200);
    EXPECT_LT(a.status, 500) << a.text.substr(0, 200);
  }
  json many = json::object();
  for (int i = 0; i < 3000; ++i) many["f" + std::to_string(i) + ".rules"] = "";
  const Answer thousands = server_.post("/v1/rulesets", admin(), push_body(many));
  EXPECT_GE(thousands.status, 400);
  EXPECT_LT(thousands.status, 500);
  // A body nested 100,000 deep.
  const std::string deep =
      "{\"name\":\"d\",\"packs\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const Answer nested = server_.request("POST", "/v1/rulesets", admin(), deep);
  EXPECT_GE(nested.status, 400);
  EXPECT_LT(nested.status, 500);
  // Over the body cap.
  const Answer over =
      server_.post("/v1/rulesets", admin(), push_body({{"big.rules", std::string(2 << 20, 'x')}}));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(stored(), 1u);
  still_serves();
}

TEST_F(RulesetAttack, APackThatAttacksTheCompilerIsRefusedNotACrash) {
  const std::string condition =
      std::string(10000, '(') + "pool.id == \"x\"" + std::string(10000, ')');
  const std::string text =
      "rule deep.one {\n  title \"t\"\n  source \"s\"\n"
      "  effective 2020-01-01 ..\n  on run\n  when " +
      condition + "\n  then forbid\n}\n";
  Answer a = server_.post("/v1/rulesets", admin(), push_body({{"deep.rules", text}}));
  EXPECT_EQ(a.status, 422) << a.text.substr(0, 300);
  EXPECT_EQ(stored(), 1u);
  still_serves();
}

// What a set would change reads the whole fleet (every org's leases and
// jobs) and every set: a tenant or an operator may not ask, even of the
// rules in force; the questions change nothing; hostile ranges and sizes
// are refused before any work.
TEST_F(RulesetAttack, DiffImpactAndSimulationAreNotTenantsToAskAndChangeNothing) {
  const std::string id = proposed();
  const std::string tenant = server_.make_user("t", "tenant-admin", "hanshan-sg");
  const std::string op = server_.make_user("o", "operator-admin", "", "lionpoint");
  const Answer adopted_list = server_.get("/v1/rulesets?state=adopted", admin());
  const std::string in_force = adopted_list.body["items"][0]["id"];
  for (const std::string& token : {tenant, op}) {
    for (const std::string& set : {id, in_force}) {
      EXPECT_EQ(server_.post("/v1/rulesets/" + set + "/diff", token, json::object()).status, 403);
      EXPECT_EQ(server_.post("/v1/rulesets/" + set + "/impact", token, json::object()).status, 403);
      EXPECT_EQ(server_.get("/v1/rulesets/" + set + "/simulation", token).status, 403);
    }
  }
  const auto audit_before = server_.get("/v1/audit?limit=1000", admin()).body["items"].size();
  const std::string auditor = server_.make_user("a", "auditor");
  EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/diff", auditor, json::object()).status, 200);
  EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/impact", auditor, json::object()).status, 200);
  // A range from 1970 to 2200 costs change points, not days: answered.
  EXPECT_EQ(server_
                .post("/v1/rulesets/" + id + "/diff", auditor,
                      {{"from", "1970-01-01T00:00:00Z"}, {"to", "2199-12-31T00:00:00Z"}})
                .status,
            200);
  EXPECT_EQ(
      server_.post("/v1/rulesets/" + id + "/diff?against=rs-99999999", auditor, json::object())
          .status,
      404);
  EXPECT_EQ(
      server_.post("/v1/rulesets/" + id + "/diff?against=a&against=b", auditor, json::object())
              .status /
          100,
      4);
  EXPECT_EQ(server_.get("/v1/rulesets/" + id + "/simulation?days=100000", auditor).status, 400);
  EXPECT_EQ(server_.get("/v1/rulesets/" + id + "/simulation?days=-1", auditor).status, 400);
  EXPECT_EQ(
      server_.post("/v1/rulesets/" + id + "/impact", auditor, {{"from", "2001-01-01T00:00:00Z"}})
          .status,
      400);
  EXPECT_EQ(server_.post("/v1/rulesets/" + id + "/impact?x=1", auditor, json::object()).status,
            400);
  // Only the users made above were audited: the questions wrote nothing.
  EXPECT_EQ(server_.get("/v1/audit?limit=1000", admin()).body["items"].size(),
            audit_before + 2);  // the auditor's user and token
  EXPECT_EQ(server_.get("/v1/rulesets/" + id, admin()).body["state"], "proposed");
  still_serves();
}

}  // namespace
}  // namespace straits::api
