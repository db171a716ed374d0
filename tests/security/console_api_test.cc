// The console's read models (issue 18) under hostile callers: a tenant
// probing another org through /v1/fleet, /v1/upcoming and the jobs list's
// filters, search and sort; an operator-admin looking for tenants' jobs; an
// auditor exporting (read-only, allowed) but not changing anything; and bad
// parameters, which must answer 400 naming the parameter, never crash.
// The real server in the test process, over real HTTP, on a real SQLite file.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "api/server_fixture.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::at;
using testing_util::json;
using testing_util::TestServer;

class ConsoleApiAttackTest : public ::testing::Test {
 protected:
  ConsoleApiAttackTest() : server_(at("2026-12-15T00:00:00Z")) {
    server_.options().rule_dirs.push_back(std::filesystem::path(STRAITS_SOURCE_DIR) /
                                          "rules/scenarios/close-remote-access");
    server_.start();
    const std::string& admin = server_.admin_token();
    // tsukimi (the victim) leases and runs on lionpoint's pool, and its lease
    // ends within the console's 30 days; bellhollow (the attacker) has its
    // own lease elsewhere.
    EXPECT_EQ(
        server_
            .lease("tsukimi", "sg-tuas-1-h100", 16, "2026-12-01T00:00:00Z", "2026-12-25T00:00:00Z")
            .status,
        201);
    EXPECT_EQ(server_
                  .lease("bellhollow", "sg-jurong-1-h100", 8, "2026-12-01T00:00:00Z",
                         "2027-06-01T00:00:00Z")
                  .status,
              201);
    for (const char* org : {"tsukimi", "bellhollow"}) {
      Answer job = server_.post("/v1/jobs", admin,
                                {{"org", org},
                                 {"name", std::string("secret-project-of-") + org},
                                 {"gpus", 8},
                                 {"work", 20000},
                                 {"eligible_chips", {"h100-sxm"}}});
      EXPECT_EQ(job.status, 201) << job.text;
      jobs_[org] = job.body.value("id", "");
    }
    EXPECT_TRUE(server_.server().schedule_now());
    attacker_ = server_.make_user("mallory", "tenant-admin", "bellhollow");
  }

  // Whether the answer names tsukimi or its job anywhere.
  bool leaks(const Answer& a) const {
    return a.text.find("tsukimi") != std::string::npos ||
           a.text.find(jobs_.at("tsukimi")) != std::string::npos ||
           a.text.find("secret-project-of-tsukimi") != std::string::npos;
  }

  TestServer server_;
  std::map<std::string, std::string> jobs_;
  std::string attacker_;
};

TEST_F(ConsoleApiAttackTest, ATenantSeesNoOtherOrgInTheFleetOrWhatComesNext) {
  ASSERT_EQ(server_.get("/v1/jobs/" + jobs_["tsukimi"], server_.admin_token()).body["state"],
            "assigned");
  Answer fleet = server_.get("/v1/fleet", attacker_);
  ASSERT_EQ(fleet.status, 200) << fleet.text;
  EXPECT_FALSE(leaks(fleet)) << fleet.text.substr(0, 400);
  // tsukimi's 16 GPUs on sg-tuas-1-h100 show nowhere: not as leased, not in
  // what is free.
  for (const json& country : fleet.body["countries"]) {
    for (const json& site : country["sites"]) {
      for (const json& pool : site["pools"]) {
        if (pool["pool"] != "sg-tuas-1-h100") continue;
        EXPECT_EQ(pool["leased"], 0) << pool.dump();
        EXPECT_EQ(pool["used"], 0) << pool.dump();
        EXPECT_TRUE(pool["free"].is_null()) << pool.dump();
      }
    }
  }
  Answer up = server_.get("/v1/upcoming?days=365", attacker_);
  ASSERT_EQ(up.status, 200) << up.text;
  EXPECT_FALSE(leaks(up)) << up.text.substr(0, 400);
  // The admin sees the same lease end, with tsukimi's job to move.
  Answer all = server_.get("/v1/upcoming?days=365", server_.admin_token());
  EXPECT_TRUE(leaks(all)) << all.text.substr(0, 400);
}

TEST_F(ConsoleApiAttackTest, ATenantCannotReachAnotherOrgsJobsThroughFiltersSearchOrSort) {
  for (const std::string& query : std::vector<std::string>{
           "org=tsukimi", "org=tsukimi&sort=gpus", "q=tsukimi", "q=secret", "q=" + jobs_["tsukimi"],
           "sort=org&order=desc", "sort=position&offset=0&limit=1000", "site=sg-tuas-1",
           "pool=sg-tuas-1-h100", "chip=h100-sxm&sort=site", "state=assigned&sort=submitted"}) {
    Answer a = server_.get("/v1/jobs?" + query, attacker_);
    ASSERT_EQ(a.status, 200) << query << " -> " << a.text;
    EXPECT_FALSE(leaks(a)) << query << " -> " << a.text.substr(0, 400);
    for (const json& j : a.body["items"]) EXPECT_EQ(j["org"], "bellhollow") << query;
  }
  // The total counts its own jobs only.
  EXPECT_EQ(server_.get("/v1/jobs?sort=id", attacker_).body["total"], 1);
  EXPECT_EQ(server_.get("/v1/jobs?org=tsukimi", attacker_).body["total"], 0);
}

TEST_F(ConsoleApiAttackTest, AnOperatorAdminSeesItsPoolsFiguresButNoTenantsJobs) {
  const std::string noc = server_.make_user("noc", "operator-admin", "", "lionpoint");
  Answer fleet = server_.get("/v1/fleet", noc);
  ASSERT_EQ(fleet.status, 200);
  EXPECT_EQ(fleet.text.find("secret-project"), std::string::npos);
  for (const std::string& path : {std::string("/v1/jobs"), std::string("/v1/jobs?q=secret"),
                                  std::string("/v1/jobs?sort=name&pool=sg-tuas-1-h100"),
                                  std::string("/v1/upcoming?days=365")}) {
    Answer a = server_.get(path, noc);
    ASSERT_EQ(a.status, 200) << path << " -> " << a.text;
    EXPECT_EQ(a.text.find("secret-project"), std::string::npos) << path << " -> " << a.text;
  }
  // The lease ending on its pool, without the job; not bellhollow's lease
  // on another operator's pool.
  Answer up = server_.get("/v1/upcoming?days=30", noc);
  int lease_ends = 0;
  for (const json& item : up.body["items"]) {
    if (item["kind"] != "lease_end") continue;
    ++lease_ends;
    EXPECT_EQ(item["pool"], "sg-tuas-1-h100");
    EXPECT_TRUE(item["jobs"].empty()) << item.dump();
  }
  EXPECT_EQ(lease_ends, 1) << up.text;
  // Nor may it export the audit log (it holds tenants' job specs).
  EXPECT_EQ(server_.get("/v1/audit/export", noc).status, 403);
  EXPECT_EQ(server_.get("/v1/audit/export", attacker_).status, 403);
}

TEST_F(ConsoleApiAttackTest, AnAuditorExportsButChangesNothing) {
  const std::string auditor = server_.make_user("audrey", "auditor");
  EXPECT_EQ(server_.get("/v1/audit/export", auditor).status, 200);
  EXPECT_EQ(server_.get("/v1/audit?order=desc&action=job.", auditor).status, 200);
  EXPECT_EQ(server_.get("/v1/fleet", auditor).status, 200);
  EXPECT_EQ(server_.post("/v1/jobs/" + jobs_["tsukimi"] + "/cancel", auditor, nullptr).status, 403);
}

TEST_F(ConsoleApiAttackTest, BadParametersAnswer400NamingTheParameter) {
  const std::string& admin = server_.admin_token();
  const std::pair<std::string, std::string> cases[] = {
      {"/v1/upcoming?days=0", "days"},
      {"/v1/upcoming?days=100000", "days"},
      {"/v1/upcoming?days=-1", "days"},
      {"/v1/upcoming?days=1e3", "days"},
      {"/v1/jobs?sort=evil", "sort"},
      {"/v1/jobs?sort=id;drop", "sort"},
      {"/v1/jobs?order=sideways", "order"},
      {"/v1/jobs?offset=-1", "offset"},
      {"/v1/jobs?offset=99999999999999999999", "offset"},
      {"/v1/jobs?q=" + std::string(300, 'a'), "q"},
      {"/v1/jobs?sort=id&after=j-00000001", "after"},
      {"/v1/rules/changes?from=garbage", "from"},
      {"/v1/rules/changes?from=9999-01-01T00:00:00Z", "from"},
      {"/v1/rules/changes?days=0", "days"},
      {"/v1/audit/export?from_seq=0", "from_seq"},
      {"/v1/audit/export?from_seq=5&to_seq=2", "to_seq"},
      {"/v1/audit/export?from_seq=999999999", "from_seq"},
      {"/v1/fleet?bogus=1", "bogus"},
      {"/v1/audit?order=sideways", "order"},
      {"/v1/audit?order=desc&after=3", "after"},
      {"/v1/audit?before=3", "before"},
      {"/v1/audit?order=desc&before=0", "before"},
      {"/v1/audit?action=", "action"},
      {"/v1/audit?actor=" + std::string(300, 'a'), "actor"},
      {"/v1/audit?since=yesterday", "since"},
      {"/v1/audit?until=3000-01-01T00:00:00Z", "until"},
  };
  for (const auto& [path, field] : cases) {
    Answer a = server_.get(path, admin);
    EXPECT_EQ(a.status, 400) << path << " -> " << a.text;
    EXPECT_EQ(a.body["error"]["field"], field) << path << " -> " << a.text;
  }
  // An offset past the end is an empty page, not an error.
  Answer far = server_.get("/v1/jobs?sort=gpus&offset=1000000", admin);
  EXPECT_EQ(far.status, 200);
  EXPECT_TRUE(far.body["items"].empty());
  EXPECT_EQ(far.body["total"], 2);
  // The server is still up.
  EXPECT_EQ(server_.get("/healthz", "").status, 200);
}

}  // namespace
}  // namespace straits::api
