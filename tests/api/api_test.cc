// The control plane over real HTTP: a server on a loopback port with an
// SQLite store in a temporary folder, and again with a schema of its own on
// the PostgreSQL server ctest starts; the shipped catalog and rules (with
// the close-remote-access scenario laid over them: it forbids hanshan's
// remote access from 2027-01-01), and a manual clock starting 2026-12-01.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "api/server_fixture.h"
#include "store/backend.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::at;
using testing_util::json;
using testing_util::TestServer;

// The backend's store (BackendTest: an SQLite file, or an empty PostgreSQL
// schema of the test's own) under a server.
class ApiTest : public store::testing_util::BackendTest {
 protected:
  ApiTest() : server_(at("2026-12-01T00:00:00Z")) {
    server_.options().rule_dirs.push_back(std::filesystem::path(STRAITS_SOURCE_DIR) /
                                          "rules/scenarios/close-remote-access");
  }
  void SetUp() override {
    BackendTest::SetUp();
    server_.options().store = url_;
    server_.start();
  }
  void TearDown() override {
    server_.stop();
    BackendTest::TearDown();
  }

  json lease(const std::string& org, const std::string& pool, int gpus, const char* start,
             const char* end) {
    return {{"org", org}, {"pool", pool}, {"gpus", gpus}, {"start", start}, {"end", end}};
  }
  std::int64_t audit_seq() { return server_.get("/healthz", "").body["audit_seq"]; }

  TestServer server_;
};

TEST_P(ApiTest, RefusesRequestsWithoutAValidToken) {
  Answer none = server_.get("/v1/jobs", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["code"], "unauthenticated");
  EXPECT_EQ(server_.get("/v1/jobs", "st_not-a-token").status, 401);
  Answer me = server_.get("/v1/whoami", server_.admin_token());
  ASSERT_EQ(me.status, 200) << me.text;
  EXPECT_EQ(me.body["role"], "admin");
}

TEST_P(ApiTest, RevokedTokenStopsWorking) {
  const std::string token = server_.make_user("eve", "engineer", "bellhollow");
  Answer me = server_.get("/v1/whoami", token);
  ASSERT_EQ(me.status, 200);
  Answer revoked =
      server_.post("/v1/tokens/" + me.body["token"].get<std::string>() + "/revoke", token, {});
  ASSERT_EQ(revoked.status, 200) << revoked.text;
  EXPECT_EQ(server_.get("/v1/whoami", token).status, 401);
}

TEST_P(ApiTest, LeaseIsCreatedWithItsDecisionAndListed) {
  Answer made = server_.post(
      "/v1/leases", server_.admin_token(),
      lease("bellhollow", "sg-tuas-1-h100", 64, "2026-12-01T00:00:00Z", "2027-06-01T00:00:00Z"));
  ASSERT_EQ(made.status, 201) << made.text;
  EXPECT_EQ(made.body["state"], "active");
  EXPECT_EQ(made.body["decision"]["decision"], "allow");
  const std::string id = made.body["id"];
  Answer got = server_.get("/v1/leases/" + id, server_.admin_token());
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, made.body);
  Answer list = server_.get("/v1/leases?pool=sg-tuas-1-h100", server_.admin_token());
  ASSERT_EQ(list.body["items"].size(), 1u);
  // Past its end it shows as ended; terminated early, as terminated.
  server_.clock().set(at("2027-06-01T00:00:00Z"));
  EXPECT_EQ(server_.get("/v1/leases/" + id, server_.admin_token()).body["state"], "ended");
  EXPECT_EQ(server_.get("/v1/leases?state=active", server_.admin_token()).body["items"].size(), 0u);
  Answer ended = server_.post("/v1/leases/" + id + "/terminate", server_.admin_token(), {});
  EXPECT_EQ(ended.body["state"], "terminated");
}

TEST_P(ApiTest, OverCommittedLeaseIs409AndPolicyDenialIs422WithCitations) {
  const std::string admin = server_.admin_token();
  Answer pool = server_.get("/v1/pools/sg-tuas-1-h100", admin);
  const int gpus = pool.body["nodes"].get<int>() * pool.body["gpus_per_node"].get<int>();
  ASSERT_EQ(server_
                .post("/v1/leases", admin,
                      lease("bellhollow", "sg-tuas-1-h100", gpus - 8, "2026-12-01T00:00:00Z",
                            "2027-01-01T00:00:00Z"))
                .status,
            201);
  // Overlapping by one day: 16 do not fit where 8 are left.
  Answer over = server_.post(
      "/v1/leases", admin,
      lease("tsukimi", "sg-tuas-1-h100", 16, "2026-12-31T00:00:00Z", "2027-02-01T00:00:00Z"));
  EXPECT_EQ(over.status, 409) << over.text;
  EXPECT_EQ(over.body["error"]["code"], "over_committed");
  EXPECT_EQ(over.body["error"]["field"], "gpus");
  // After the first ends, they do.
  EXPECT_EQ(server_
                .post("/v1/leases", admin,
                      lease("tsukimi", "sg-tuas-1-h100", 16, "2027-01-01T00:00:00Z",
                            "2027-02-01T00:00:00Z"))
                .status,
            201);
  // From 2027-01-01 the scenario forbids hanshan's remote access.
  Answer denied = server_.post(
      "/v1/leases", admin,
      lease("hanshan-sg", "my-sedenak-1-h100", 8, "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"));
  ASSERT_EQ(denied.status, 422) << denied.text;
  EXPECT_EQ(denied.body["error"]["code"], "policy_denied");
  const json& decision = denied.body["error"]["details"]["decision"];
  EXPECT_EQ(decision["decision"], "deny");
  bool cited = false;
  for (const json& rule : decision["rules"]) {
    cited |= rule["id"] == "scenario.close-remote-access.lease-run" &&
             rule["source"].get<std::string>().find("H.R. 2683") != std::string::npos;
  }
  EXPECT_TRUE(cited) << decision.dump(2);
}

TEST_P(ApiTest, ConcurrentLeasesNeverOverCommit) {
  const std::string admin = server_.admin_token();
  Answer pool = server_.get("/v1/pools/jp-tokyo-1-h100", admin);
  const int gpus = pool.body["nodes"].get<int>() * pool.body["gpus_per_node"].get<int>();
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  const int per_lease = 8, tries = gpus / per_lease + 12;
  for (int c = 0; c < tries; ++c) {
    clients.emplace_back([&, c] {
      Answer a = server_.post("/v1/leases", admin,
                              lease(c % 2 ? "tsukimi" : "bellhollow", "jp-tokyo-1-h100", per_lease,
                                    "2026-12-01T00:00:00Z", "2027-12-01T00:00:00Z"));
      (a.status == 201 ? created : a.status == 409 ? refused : other)++;
      if (a.status != 201 && a.status != 409) ADD_FAILURE() << a.status << " " << a.text;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(created.load(), gpus / per_lease);
  EXPECT_EQ(refused.load(), tries - gpus / per_lease);
}

TEST_P(ApiTest, JobIsPlacedWithItsDecisionThenMovedWhenTheRuleBites) {
  const std::string admin = server_.admin_token();
  ASSERT_EQ(server_
                .post("/v1/leases", admin,
                      lease("hanshan-sg", "sg-tuas-1-h100", 64, "2026-12-01T00:00:00Z",
                            "2027-06-01T00:00:00Z"))
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
  EXPECT_EQ(job.body["state"], "queued");
  EXPECT_EQ(job.body["org"], "hanshan-sg");
  const std::string id = job.body["id"];
  auto pass = server_.server().schedule_now();
  ASSERT_TRUE(pass) << pass.error().message();
  EXPECT_EQ(pass->started, 1u);
  Answer placed = server_.get("/v1/jobs/" + id, engineer);
  EXPECT_EQ(placed.body["state"], "assigned");
  EXPECT_EQ(placed.body["placement"]["pool"], "sg-tuas-1-h100");
  EXPECT_EQ(placed.body["decision"]["decision"], "allow");
  // The rule that takes effect on 2027-01-01 cuts its window.
  EXPECT_EQ(placed.body["placement"]["must_leave_by"], "2027-01-01T00:00:00Z");

  server_.clock().set(at("2026-12-31T23:59:50Z"));
  ASSERT_TRUE(server_.server().schedule_now());
  EXPECT_EQ(server_.get("/v1/jobs/" + id, engineer).body["state"], "checkpointing");
  server_.clock().set(at("2027-01-01T00:00:00Z"));
  auto move = server_.server().schedule_now();
  ASSERT_TRUE(move);
  EXPECT_EQ(move->moved, 1u);
  // The next pass finds no place for it.
  auto after = server_.server().schedule_now();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->started, 0u);
  Answer moved = server_.get("/v1/jobs/" + id + "?explain=true", engineer);
  EXPECT_EQ(moved.body["state"], "queued");
  // It cannot run anywhere its org may use now, and says why.
  EXPECT_FALSE(moved.body["waiting"]["reason"].get<std::string>().empty()) << moved.text;
  EXPECT_FALSE(moved.body["blocking"].empty()) << moved.text;
  Answer events = server_.get("/v1/jobs/" + id + "/events", engineer);
  std::vector<std::string> kinds;
  for (const json& e : events.body["items"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"submitted", "placed", "checkpoint", "moved"}));
  // The placement keeps the decision that allowed it, with its rules: the
  // job's history shows why it ran there even after it moved.
  const json& placed_event = events.body["items"][1]["data"];
  EXPECT_EQ(placed_event["decision"]["decision"], "allow") << placed_event.dump();
  EXPECT_TRUE(placed_event["decision"].contains("rules")) << placed_event.dump();
  EXPECT_EQ(placed_event["pool"], events.body["items"][1]["message"].get<std::string>().substr(15));
}

TEST_P(ApiTest, BadInputIsRefusedNamingTheFieldAndStoresNothing) {
  const std::string admin = server_.admin_token();
  const std::int64_t before = audit_seq();
  struct Case {
    std::string body;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{not json", 400, ""},
      // Found by fuzzing: invalid UTF-8 quoted back in the message, and a
      // number too large for any type, each ended in a 500 or worse.
      {"{\"org\":\"bellhollow\",\"deadline\":\"2026-01-01T00:0\xcd:00Z\"}", 400, ""},
      {R"({"org":"bellhollow","gpus":3835e21341,"work":1})", 400, ""},
      {"[1,2]", 400, ""},
      {R"({"org":"bellhollow","gpus":1,"work":1,"colour":"red"})", 400, "colour"},
      {R"({"org":"bellhollow","gpus":"8","work":1})", 400, "gpus"},
      {R"({"org":"bellhollow","gpus":0,"work":1})", 400, "gpus"},
      {R"({"org":"bellhollow","gpus":99999999999999999999,"work":1})", 400, "gpus"},
      {R"({"org":"bellhollow","gpus":1,"work":1,"deadline":"2026-13-45"})", 400, "deadline"},
      {R"({"org":"bellhollow","gpus":1,"work":1,"eligible_chips":["h900"]})", 422,
       "eligible_chips[0]"},
      {R"({"org":"nobody","gpus":1,"work":1})", 422, "org"},
      {R"({"org":"bellhollow","gpus":1,"work":1,"preferences":{"site_order":[1]}})", 400,
       "preferences.site_order[0]"},
  };
  for (const Case& c : cases) {
    Answer a = server_.request("POST", "/v1/jobs", admin, c.body);
    EXPECT_EQ(a.status, c.status) << c.body << " -> " << a.text;
    ASSERT_TRUE(a.body.is_object()) << a.text;
    EXPECT_FALSE(a.body["error"]["message"].get<std::string>().empty());
    if (!c.field.empty()) {
      EXPECT_EQ(a.body["error"]["field"], c.field) << a.text;
    }
  }
  // Too many items, and a body over the limit.
  json many = {{"org", "bellhollow"}, {"gpus", 1}, {"work", 1}, {"datasets", json::array()}};
  for (int i = 0; i < 1001; ++i) many["datasets"].push_back("d");
  EXPECT_EQ(server_.post("/v1/jobs", admin, many).status, 400);
  Answer huge = server_.request("POST", "/v1/jobs", admin, std::string(2 << 20, ' '));
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(huge.body["error"]["code"], "payload_too_large");
  EXPECT_EQ(server_.get("/v1/jobs/j-99999999", admin).status, 404);
  EXPECT_EQ(server_.get("/v1/jobs?colour=red", admin).status, 400);
  EXPECT_EQ(server_.get("/v1/jobs?limit=0", admin).status, 400);
  EXPECT_EQ(server_.request("DELETE", "/v1/jobs", admin).status, 405);
  // Changes take no query parameters; numbers in queries are whole numbers.
  EXPECT_EQ(server_.request("POST", "/v1/schedule?dry=1", admin).status, 400);
  EXPECT_EQ(server_.request("POST", "/v1/schedule", admin, R"({"now": true})").status, 400);
  EXPECT_EQ(server_.get("/v1/audit?after=5x", admin).status, 400);
  EXPECT_EQ(server_.get("/v1/audit?limit=-1", admin).status, 400);
  EXPECT_EQ(server_.get("/v1/nothing-here", admin).status, 404);
  EXPECT_EQ(audit_seq(), before);
  EXPECT_TRUE(server_.get("/v1/jobs", admin).body["items"].empty());
}

TEST_P(ApiTest, CatalogEntitiesAreCheckedAgainstTheCatalogAndRetiredNotDeleted) {
  const std::string admin = server_.admin_token();
  json pool = {{"id", "sg-tuas-2-h200"},
               {"site", "sg-tuas-1"},
               {"chip", "h900"},
               {"nodes", 4},
               {"gpus_per_node", 8},
               {"interconnect", "NVLink"},
               {"price_per_gpu_hour", "3.50 USD"},
               {"price_source", "test"}};
  Answer unknown_chip = server_.post("/v1/pools", admin, pool);
  EXPECT_EQ(unknown_chip.status, 422) << unknown_chip.text;
  EXPECT_EQ(unknown_chip.body["error"]["field"], "chip") << unknown_chip.text;
  pool["chip"] = "h200";
  Answer made = server_.post("/v1/pools", admin, pool);
  ASSERT_EQ(made.status, 201) << made.text;
  EXPECT_EQ(server_.post("/v1/pools", admin, pool).status, 409);
  Answer patched = server_.request("PATCH", "/v1/pools/sg-tuas-2-h200", admin, R"({"nodes": 6})");
  ASSERT_EQ(patched.status, 200) << patched.text;
  EXPECT_EQ(patched.body["nodes"], 6);
  ASSERT_EQ(server_
                .post("/v1/leases", admin,
                      lease("bellhollow", "sg-tuas-2-h200", 8, "2026-12-01T00:00:00Z",
                            "2027-01-01T00:00:00Z"))
                .status,
            201);
  Answer busy = server_.post("/v1/pools/sg-tuas-2-h200/retire", admin, {});
  EXPECT_EQ(busy.status, 409) << busy.text;
  server_.clock().set(at("2027-01-02T00:00:00Z"));
  Answer leases = server_.get("/v1/leases?pool=sg-tuas-2-h200", admin);
  ASSERT_EQ(
      server_
          .post("/v1/leases/" + leases.body["items"][0]["id"].get<std::string>() + "/terminate",
                admin, {})
          .status,
      200);
  Answer retired = server_.post("/v1/pools/sg-tuas-2-h200/retire", admin, {});
  ASSERT_EQ(retired.status, 200) << retired.text;
  EXPECT_FALSE(retired.body["retired_at"].is_null());
  // Retired, not gone: listed on request, and leases on it refused.
  EXPECT_EQ(server_.get("/v1/pools/sg-tuas-2-h200", admin).status, 200);
  Answer listed = server_.get("/v1/pools?retired=true", admin);
  ASSERT_EQ(listed.body["items"].size(), 1u);
  EXPECT_EQ(server_
                .post("/v1/leases", admin,
                      lease("bellhollow", "sg-tuas-2-h200", 8, "2027-02-01T00:00:00Z",
                            "2027-03-01T00:00:00Z"))
                .status,
            422);
}

TEST_P(ApiTest, StateAndAuditChainSurviveARestart) {
  const std::string admin = server_.admin_token();
  ASSERT_EQ(server_
                .post("/v1/leases", admin,
                      lease("bellhollow", "sg-tuas-1-h100", 8, "2026-12-01T00:00:00Z",
                            "2027-01-01T00:00:00Z"))
                .status,
            201);
  ASSERT_EQ(
      server_.post("/v1/jobs", admin, {{"org", "bellhollow"}, {"gpus", 8}, {"work", 100}}).status,
      201);
  ASSERT_TRUE(server_.server().schedule_now());
  const json jobs = server_.get("/v1/jobs", admin).body;
  const json leases = server_.get("/v1/leases", admin).body;
  server_.stop();
  server_.start();
  EXPECT_FALSE(server_.server().bootstrap_token());  // shown once only
  EXPECT_EQ(server_.get("/v1/jobs", admin).body, jobs);
  EXPECT_EQ(server_.get("/v1/leases", admin).body, leases);
  Answer verified = server_.get("/v1/audit/verify", admin);
  EXPECT_EQ(verified.body["ok"], true) << verified.text;
  Answer log = server_.get("/v1/audit?limit=1000", admin);
  std::vector<std::string> actions;
  for (const json& e : log.body["items"]) actions.push_back(e["action"]);
  EXPECT_NE(std::find(actions.begin(), actions.end(), "lease.create"), actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "job.submit"), actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "job.place"), actions.end());
}

TEST_P(ApiTest, AuditVerifyFindsAnAlteredEvent) {
  const std::string admin = server_.admin_token();
  ASSERT_EQ(
      server_.post("/v1/jobs", admin, {{"org", "bellhollow"}, {"gpus", 8}, {"work", 100}}).status,
      201);
  ASSERT_EQ(server_.get("/v1/audit/verify", admin).body["ok"], true);
  // Someone with access to the database rewrites who did it.
  store::testing_util::raw_exec(
      url_, "UPDATE audit_events SET actor = 'u-00000042' WHERE action = 'job.submit'");
  Answer verified = server_.get("/v1/audit/verify", admin);
  EXPECT_EQ(verified.body["ok"], false);
  ASSERT_FALSE(verified.body["problems"].empty());
  EXPECT_NE(verified.body["problems"][0].get<std::string>().find("altered"), std::string::npos)
      << verified.text;
}

// Health without a token; the fleet's figures to admin, auditor and
// compliance only (issue 15).
TEST_P(ApiTest, HealthIsServedWithoutATokenAndMetricsWithOne) {
  ASSERT_EQ(server_.get("/v1/whoami", server_.admin_token()).status, 200);
  EXPECT_EQ(server_.get("/metrics", "").status, 401);
  Answer metrics = server_.get("/metrics", server_.admin_token());
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.text.find("straits_http_requests_total{method=\"GET\",route=\"/v1/whoami\","
                              "status=\"200\"} 1"),
            std::string::npos)
      << metrics.text;
  EXPECT_NE(metrics.text.find("straits_queue_length 0"), std::string::npos);
  EXPECT_NE(metrics.text.find("straits_pool_gpus{pool=\"sg-tuas-1-h100\"}"), std::string::npos);
  EXPECT_EQ(server_.get("/healthz", "").body["status"], "ok");
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiTest,
                         testing::Values(store::StoreUrl::Kind::kSqlite,
                                         store::StoreUrl::Kind::kPostgres),
                         store::testing_util::backend_name);

}  // namespace
}  // namespace straits::api
