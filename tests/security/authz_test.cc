// Authorisation attacks of issue 15, one test each, against the real server
// (the shipped catalog and default rules, an SQLite file, real HTTP). Each
// passed on the code before its fix:
//  - a tenant-admin relabelled its own dataset from personal/CN to public/SG
//    with a 200, and a run that needed a licence under China's PIPL rule was
//    allowed at once;
//  - site agents acted with an admin's or operator-admin's token, which reads
//    every job, lease and user (no credential of their own existed);
//  - a 409 told a tenant that another tenant held a dataset id or a user
//    name, and an operator that another operator had an agent of a name.
#include <gtest/gtest.h>

#include <string>

#include "api/server_fixture.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::json;
using testing_util::TestServer;

class AuthzAttack : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  void TearDown() override { server_.stop(); }
  const std::string& admin() const { return server_.admin_token(); }
  Answer patch(const std::string& path, const std::string& token, const json& body) {
    return server_.request("PATCH", path, token, body.dump());
  }
  // The decision on a run of hanshan-sg on a Singapore pool using the
  // dataset (PIPL: personal data collected in China used offshore).
  std::string run_decision() {
    const Answer a = server_.post("/v1/decisions", admin(),
                                  {{"action", "run"},
                                   {"org", "hanshan-sg"},
                                   {"pool", "sg-tuas-1-h100"},
                                   {"job", {{"gpus", 8}, {"datasets", {kDataset}}}}});
    EXPECT_EQ(a.status, 200) << a.text;
    return a.body.value("decision", "");
  }
  json dataset() { return server_.get(std::string("/v1/datasets/") + kDataset, admin()).body; }
  std::vector<json> audit_of(const std::string& action) {
    std::vector<json> out;
    const Answer a = server_.get("/v1/audit?limit=1000", admin());
    for (const json& e : a.body["items"]) {
      if (e["action"] == action) out.push_back(e);
    }
    return out;
  }

  static constexpr const char* kDataset = "hanshan-user-dialogues";
  TestServer server_;
};

TEST_F(AuthzAttack, ATenantAdminCannotRelabelItsDatasetPastARule) {
  // The world of the issue: the dataset belongs to hanshan-sg, whose
  // tenant-admin tries to relabel it.
  ASSERT_EQ(
      patch(std::string("/v1/datasets/") + kDataset, admin(), {{"owner", "hanshan-sg"}}).status,
      200);
  const std::string tenant_admin = server_.make_user("hanshan-ops", "tenant-admin", "hanshan-sg");
  ASSERT_EQ(run_decision(), "licence_required");

  // The attack: personal/CN becomes public/SG.
  const Answer relabel = patch(std::string("/v1/datasets/") + kDataset, tenant_admin,
                               {{"class", "public"}, {"origin", "SG"}});
  EXPECT_NE(relabel.status, 200) << relabel.text;
  ASSERT_EQ(relabel.status, 202) << relabel.text;  // a change request, not a change
  EXPECT_EQ(relabel.body["state"], "pending");
  EXPECT_EQ(relabel.body["facts"], json({"class", "origin"}));
  const std::string request = relabel.body["id"];
  EXPECT_EQ(dataset()["class"], "personal");
  EXPECT_EQ(dataset()["origin"], "CN");
  EXPECT_EQ(run_decision(), "licence_required");  // the rule still holds

  // The tenant sees its request; it may not decide it.
  EXPECT_EQ(server_.get("/v1/change-requests/" + request, tenant_admin).status, 200);
  EXPECT_EQ(
      server_.post("/v1/change-requests/" + request + "/approve", tenant_admin, nullptr).status,
      403);
  // A field that decides nothing changes directly, as before.
  const Answer renamed =
      patch(std::string("/v1/datasets/") + kDataset, tenant_admin, {{"name", "Dialogues"}});
  EXPECT_EQ(renamed.status, 200) << renamed.text;
  EXPECT_EQ(run_decision(), "licence_required");

  // The checker approves: now, and only now, it applies.
  const std::string compliance = server_.make_user("checker", "compliance");
  const Answer approved =
      server_.post("/v1/change-requests/" + request + "/approve", compliance, nullptr);
  ASSERT_EQ(approved.status, 200) << approved.text;
  EXPECT_EQ(approved.body["state"], "approved");
  EXPECT_EQ(dataset()["class"], "public");
  EXPECT_EQ(dataset()["name"], "Dialogues");  // the patch merged over the entity as it is now
  EXPECT_EQ(run_decision(), "allow");
  // Only once.
  EXPECT_EQ(
      server_
          .post("/v1/change-requests/" + request + "/reject", compliance, {{"reason", "too late"}})
          .status,
      409);

  // The request and the decision are audited with before and after.
  const std::vector<json> made = audit_of("change_request.create");
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0]["subject"], "change-requests/" + request);
  EXPECT_EQ(made[0]["before"]["class"], "personal");
  EXPECT_EQ(made[0]["after"]["class"], "public");
  const std::vector<json> decided = audit_of("change_request.approve");
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0]["before"]["class"], "personal");
  EXPECT_EQ(decided[0]["after"]["class"], "public");
  EXPECT_EQ(decided[0]["after"]["origin"], "SG");
  EXPECT_EQ(decided[0]["decision"]["decision"], "approved");
}

TEST_F(AuthzAttack, ARejectedRelabelNeverApplies) {
  ASSERT_EQ(
      patch(std::string("/v1/datasets/") + kDataset, admin(), {{"owner", "hanshan-sg"}}).status,
      200);
  const std::string tenant_admin = server_.make_user("hanshan-ops", "tenant-admin", "hanshan-sg");
  const Answer relabel =
      patch(std::string("/v1/datasets/") + kDataset, tenant_admin, {{"class", "public"}});
  ASSERT_EQ(relabel.status, 202) << relabel.text;
  const std::string request = relabel.body["id"];
  const std::string compliance = server_.make_user("checker", "compliance");
  const Answer no_reason =
      server_.post("/v1/change-requests/" + request + "/reject", compliance, nullptr);
  EXPECT_EQ(no_reason.status, 400);
  EXPECT_EQ(no_reason.body["error"]["field"], "reason");
  const Answer rejected = server_.post("/v1/change-requests/" + request + "/reject", compliance,
                                       {{"reason", "the data is personal information"}});
  ASSERT_EQ(rejected.status, 200) << rejected.text;
  EXPECT_EQ(rejected.body["state"], "rejected");
  EXPECT_EQ(dataset()["class"], "personal");
  EXPECT_EQ(run_decision(), "licence_required");
  const std::vector<json> decided = audit_of("change_request.reject");
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0]["decision"]["reason"], "the data is personal information");
  // Another tenant does not see the request at all.
  const std::string other = server_.make_user("bell-ops", "tenant-admin", "bellhollow");
  EXPECT_EQ(server_.get("/v1/change-requests/" + request, other).status, 404);
  EXPECT_EQ(server_.get("/v1/change-requests", other).body["items"], json::array());
}

TEST_F(AuthzAttack, AnAgentTokenActsForItsOwnSitesOnly) {
  const std::string operator_admin =
      server_.make_user("lionpoint-noc", "operator-admin", "", "lionpoint");
  // The operator-admin makes its agent's credential for its own site.
  const Answer user =
      server_.post("/v1/users", operator_admin,
                   {{"name", "tuas-agent"}, {"role", "agent"}, {"sites", {"sg-tuas-1"}}});
  ASSERT_EQ(user.status, 201) << user.text;
  EXPECT_EQ(user.body["sites"], json({"sg-tuas-1"}));
  const Answer made = server_.post("/v1/users/" + user.body["id"].get<std::string>() + "/tokens",
                                   operator_admin, nullptr);
  ASSERT_EQ(made.status, 201) << made.text;
  const std::string agent = made.body["secret"];
  // ...and not for another operator's site; a tenant makes none.
  EXPECT_EQ(server_
                .post("/v1/users", operator_admin,
                      {{"name", "tokyo-agent"}, {"role", "agent"}, {"sites", {"jp-tokyo-1"}}})
                .status,
            403);
  const std::string tenant_admin = server_.make_user("bell-ops", "tenant-admin", "bellhollow");
  EXPECT_EQ(server_
                .post("/v1/users", tenant_admin,
                      {{"name", "x-agent"}, {"role", "agent"}, {"sites", {"sg-tuas-1"}}})
                .status,
            403);

  // It reads nothing: jobs, leases, users, the audit log, even the market.
  for (const char* path : {"/v1/jobs", "/v1/leases", "/v1/users", "/v1/audit", "/v1/pools",
                           "/v1/agents", "/v1/datasets", "/v1/change-requests"}) {
    EXPECT_EQ(server_.get(path, agent).status, 403) << path;
  }
  EXPECT_EQ(
      server_.post("/v1/jobs", agent, {{"gpus", 1}, {"work", 1}, {"org", "bellhollow"}}).status,
      403);
  EXPECT_EQ(server_.get("/v1/whoami", agent).body["role"], "agent");

  // It registers for its site, not for another.
  const json tokyo = {
      {"name", "edge"}, {"sites", {"jp-tokyo-1"}}, {"backend", "local"}, {"version", "t"}};
  const Answer elsewhere = server_.post("/v1/agents", agent, tokyo);
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.text;
  EXPECT_EQ(elsewhere.body["error"]["field"], "sites[0]");
  const Answer mine = server_.post(
      "/v1/agents", agent,
      {{"name", "edge"}, {"sites", {"sg-tuas-1"}}, {"backend", "local"}, {"version", "t"}});
  ASSERT_EQ(mine.status, 201) << mine.text;
  const std::string id = mine.body["id"];
  EXPECT_EQ(server_.post("/v1/agents/" + id + "/heartbeat", agent, json::object()).status, 200);
  EXPECT_EQ(server_.get("/v1/agents/" + id + "/assignments", agent).status, 200);

  // Another agent, at another operator's site (the admin's): not there.
  const Answer theirs = server_.post("/v1/agents", admin(), tokyo);
  ASSERT_EQ(theirs.status, 201) << theirs.text;
  const std::string other = theirs.body["id"];
  EXPECT_EQ(server_.get("/v1/agents/" + other, agent).status, 404);
  EXPECT_EQ(server_.post("/v1/agents/" + other + "/heartbeat", agent, json::object()).status, 404);
  EXPECT_EQ(server_.get("/v1/agents/" + other + "/assignments", agent).status, 404);
  EXPECT_EQ(
      server_.post("/v1/agents/" + other + "/reports", agent, {{"reports", json::array()}}).status,
      404);
}

TEST_F(AuthzAttack, AConflictDoesNotTellOfAnotherTenantsDatasetOrUser) {
  const std::string hanshan = server_.make_user("hanshan-ops", "tenant-admin", "hanshan-sg");
  const std::string bell = server_.make_user("bell-ops", "tenant-admin", "bellhollow");
  auto dataset = [](const std::string& id, const std::string& owner) {
    return json{{"id", id},       {"name", "d"},       {"owner", owner},
                {"origin", "SG"}, {"class", "public"}, {"size_tb", 1}};
  };
  // bellhollow holds "bellhollow-web-crawl-2025" (the catalog's). hanshan-sg
  // asking for that id is answered as for an id nobody holds.
  const Answer taken =
      server_.post("/v1/datasets", hanshan, dataset("bellhollow-web-crawl-2025", "hanshan-sg"));
  const Answer free_id =
      server_.post("/v1/datasets", hanshan, dataset("nobody-holds-this", "hanshan-sg"));
  EXPECT_EQ(taken.status, free_id.status) << taken.text << "\n" << free_id.text;
  EXPECT_NE(taken.status, 409);
  // A tenant's ids are its own namespace: two orgs each make "ORG.corpus".
  EXPECT_EQ(server_.post("/v1/datasets", bell, dataset("bellhollow.corpus", "bellhollow")).status,
            201);
  EXPECT_EQ(
      server_.post("/v1/datasets", hanshan, dataset("hanshan-sg.corpus", "hanshan-sg")).status,
      201);
  // The only 409 left is for the caller's own id.
  EXPECT_EQ(server_.post("/v1/datasets", bell, dataset("bellhollow.corpus", "bellhollow")).status,
            409);
  // Nobody, not even an admin, puts another org's dataset in bellhollow's.
  EXPECT_EQ(server_.post("/v1/datasets", admin(), dataset("bellhollow.x", "hanshan-sg")).status,
            400);

  // User names are per org: both orgs may have an "alice".
  EXPECT_EQ(server_.post("/v1/users", bell, {{"name", "alice"}, {"role", "engineer"}}).status, 201);
  const Answer alice =
      server_.post("/v1/users", hanshan, {{"name", "alice"}, {"role", "engineer"}});
  EXPECT_EQ(alice.status, 201) << alice.text;
  EXPECT_EQ(server_.post("/v1/users", hanshan, {{"name", "alice"}, {"role", "engineer"}}).status,
            409);  // its own alice
}

TEST_F(AuthzAttack, AConflictDoesNotTellOfAnotherOperatorsAgent) {
  const std::string lion = server_.make_user("lionpoint-noc", "operator-admin", "", "lionpoint");
  const std::string cascade =
      server_.make_user("cascade-noc", "operator-admin", "", "cascade-ridge");
  auto agent = [](const std::string& site) {
    return json{{"name", "edge-1"}, {"sites", {site}}, {"backend", "local"}, {"version", "t"}};
  };
  const Answer first = server_.post("/v1/agents", lion, agent("sg-tuas-1"));
  ASSERT_EQ(first.status, 201) << first.text;
  const Answer second = server_.post("/v1/agents", cascade, agent("jp-tokyo-1"));
  ASSERT_EQ(second.status, 201) << second.text;  // was 409: "agent name 'edge-1' is taken"
  EXPECT_NE(second.body["id"], first.body["id"]);
  // Each re-registers its own.
  EXPECT_EQ(server_.post("/v1/agents", lion, agent("sg-tuas-1")).body["id"], first.body["id"]);
  EXPECT_EQ(server_.post("/v1/agents", cascade, agent("jp-tokyo-1")).body["id"], second.body["id"]);
  // User names of operators are per operator too.
  EXPECT_EQ(server_.post("/v1/users", lion, {{"name", "noc-2"}, {"role", "operator-admin"}}).status,
            201);
  EXPECT_EQ(
      server_.post("/v1/users", cascade, {{"name", "noc-2"}, {"role", "operator-admin"}}).status,
      201);
}

TEST_F(AuthzAttack, AnOperatorAdminsFactChangeWaitsForCompliance) {
  // A site's country decides every export rule: the operator may not move
  // its site to another country on its own say.
  const std::string lion = server_.make_user("lionpoint-noc", "operator-admin", "", "lionpoint");
  const Answer moved = patch("/v1/sites/sg-tuas-1", lion, {{"country", "US"}});
  ASSERT_EQ(moved.status, 202) << moved.text;
  EXPECT_EQ(server_.get("/v1/sites/sg-tuas-1", admin()).body["country"], "SG");
  EXPECT_EQ(server_.get("/v1/change-requests/" + moved.body["id"].get<std::string>(), lion).status,
            200);
  // A change that would break the catalog is refused at once, not queued.
  const std::int64_t before = server_.get("/healthz", "").body["audit_seq"];
  const Answer broken = patch("/v1/sites/sg-tuas-1", lion, {{"country", "XX"}});
  EXPECT_EQ(broken.status, 422) << broken.text;
  EXPECT_EQ(server_.get("/healthz", "").body["audit_seq"], before);
  EXPECT_EQ(server_.get("/v1/change-requests", admin()).body["items"].size(), 1u);
  // Licences: only admin and compliance make them.
  const json licence = {{"id", "lic-x"},
                        {"name", "x"},
                        {"holder", "bellhollow"},
                        {"chips", {"h100-sxm"}},
                        {"countries", {"SG"}},
                        {"valid_from", "2026-01-01"},
                        {"valid_until", "2027-01-01"},
                        {"issuer", "BIS"},
                        {"reference", "US-EAR-3A090"}};
  EXPECT_EQ(server_.post("/v1/licences", lion, licence).status, 403);
  const std::string compliance = server_.make_user("checker", "compliance");
  const Answer made = server_.post("/v1/licences", compliance, licence);
  EXPECT_EQ(made.status, 201) << made.text;
  // Compliance changes facts directly, and nothing else of the fleet.
  EXPECT_EQ(patch("/v1/sites/sg-tuas-1", compliance, {{"city", "Tuas"}}).status, 200);
  EXPECT_EQ(server_
                .post("/v1/leases", compliance,
                      {{"org", "bellhollow"},
                       {"pool", "sg-tuas-1-h100"},
                       {"gpus", 8},
                       {"start", "2026-02-01T00:00:00Z"},
                       {"end", "2026-03-01T00:00:00Z"}})
                .status,
            403);
}

}  // namespace
}  // namespace straits::api
