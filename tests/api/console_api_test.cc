// The console's read models (issue 18) on a real server: the fleet's figures
// after leases and placed jobs, what happens next (a lease ending in 10 days
// and a dated rule, each with the job it will move), the jobs list sorted,
// filtered and paged with queue positions, the dated rule changes, and the
// audit bundle checked as `straits audit verify-bundle` checks it.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "api/server_fixture.h"
#include "store/store.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::at;
using testing_util::json;
using testing_util::TestServer;

class ConsoleApiTest : public ::testing::Test {
 protected:
  // Mid-December 2026, with the close-remote-access pack: its rule bites on
  // 2027-01-01, within 30 days.
  ConsoleApiTest() : server_(at("2026-12-15T00:00:00Z")) {
    server_.options().rule_dirs.push_back(std::filesystem::path(STRAITS_SOURCE_DIR) /
                                          "rules/scenarios/close-remote-access");
    server_.start();
  }

  const std::string& admin() const { return server_.admin_token(); }

  std::string lease(const std::string& org, const std::string& pool, int gpus, const char* end) {
    Answer a = server_.lease(org, pool, gpus, "2026-12-01T00:00:00Z", end);
    EXPECT_EQ(a.status, 201) << a.text;
    return a.body.value("id", "");
  }

  std::string submit(const std::string& org, int gpus, const std::string& name,
                     const std::string& chip = "h100-sxm") {
    Answer a = server_.post("/v1/jobs", admin(),
                            {{"org", org},
                             {"name", name},
                             {"gpus", gpus},
                             {"work", 20000},
                             {"eligible_chips", {chip}}});
    EXPECT_EQ(a.status, 201) << a.text;
    return a.body.value("id", "");
  }

  void schedule() {
    auto pass = server_.server().schedule_now();
    ASSERT_TRUE(pass) << pass.error().message();
  }

  // The pool's entry in a /v1/fleet answer (null when absent).
  static json pool_in(const json& fleet, const std::string& pool) {
    for (const json& country : fleet["countries"]) {
      for (const json& site : country["sites"]) {
        for (const json& p : site["pools"]) {
          if (p["pool"] == pool) return p;
        }
      }
    }
    return nullptr;
  }

  static std::vector<std::string> ids(const json& page) {
    std::vector<std::string> out;
    for (const json& j : page["items"]) out.push_back(j["id"]);
    return out;
  }

  TestServer server_;
};

TEST_F(ConsoleApiTest, FleetCountsLeasedUsedAndFreeGpusPerPool) {
  lease("bellhollow", "sg-tuas-1-h100", 64, "2027-06-01T00:00:00Z");
  lease("tsukimi", "sg-tuas-1-h100", 16, "2027-06-01T00:00:00Z");
  const std::string job = submit("bellhollow", 8, "small");
  submit("tsukimi", 16, "bigger");
  schedule();
  ASSERT_EQ(server_.get("/v1/jobs/" + job, admin()).body["state"], "assigned");

  Answer fleet = server_.get("/v1/fleet", admin());
  ASSERT_EQ(fleet.status, 200) << fleet.text;
  const json tuas = pool_in(fleet.body, "sg-tuas-1-h100");
  ASSERT_TRUE(tuas.is_object()) << fleet.text.substr(0, 500);
  EXPECT_EQ(tuas["gpus"], 512);  // 64 nodes of 8
  EXPECT_EQ(tuas["leased"], 80);
  EXPECT_EQ(tuas["used"], 24);
  EXPECT_EQ(tuas["free"], 512 - 80);
  EXPECT_EQ(tuas["leases"], 2);
  EXPECT_EQ(tuas["chip"], "h100-sxm");
  // Nothing leased on the pool next door.
  const json h200 = pool_in(fleet.body, "sg-tuas-1-h200");
  EXPECT_EQ(h200["leased"], 0);
  EXPECT_EQ(h200["free"], h200["gpus"]);
  // Grouped by country, then site with its operator.
  bool found_sg = false;
  for (const json& country : fleet.body["countries"]) {
    if (country["country"] != "SG") continue;
    found_sg = true;
    for (const json& site : country["sites"]) {
      if (site["site"] == "sg-tuas-1") {
        EXPECT_EQ(site["operator"], "lionpoint");
      }
      EXPECT_EQ(site["pools"][0]["pool"].get<std::string>().rfind(site["site"], 0), 0u);
    }
  }
  EXPECT_TRUE(found_sg);

  // A tenant: its own org's figures only.
  const std::string tenant = server_.make_user("bo", "tenant-admin", "bellhollow");
  const json mine = pool_in(server_.get("/v1/fleet", tenant).body, "sg-tuas-1-h100");
  EXPECT_EQ(mine["leased"], 64);
  EXPECT_EQ(mine["used"], 8);
  EXPECT_EQ(mine["leases"], 1);
  EXPECT_TRUE(mine["free"].is_null());
  EXPECT_TRUE(mine["others_leased"].is_null());
  // The operator-admin of lionpoint: its pools in full, others' capacity only.
  const std::string noc = server_.make_user("noc", "operator-admin", "", "lionpoint");
  const json own = server_.get("/v1/fleet", noc).body;
  EXPECT_EQ(pool_in(own, "sg-tuas-1-h100")["leased"], 80);
  const json other = pool_in(own, "sg-jurong-1-h100");
  EXPECT_TRUE(other["leased"].is_null());
  EXPECT_GT(other["gpus"].get<int>(), 0);
}

TEST_F(ConsoleApiTest, UpcomingListsALeaseEndAndADatedRuleWithTheJobsTheyMove) {
  // bellhollow's lease ends in 10 days; hanshan-sg's runs on past the rule.
  const std::string ending = lease("bellhollow", "sg-tuas-1-h100", 8, "2026-12-25T00:00:00Z");
  lease("hanshan-sg", "sg-tuas-1-h100", 16, "2027-06-01T00:00:00Z");
  const std::string bell = submit("bellhollow", 8, "bell-train");
  const std::string han = submit("hanshan-sg", 16, "han-train");
  schedule();
  ASSERT_EQ(server_.get("/v1/jobs/" + bell, admin()).body["state"], "assigned");
  ASSERT_EQ(server_.get("/v1/jobs/" + han, admin()).body["state"], "assigned");

  Answer up = server_.get("/v1/upcoming?days=30", admin());
  ASSERT_EQ(up.status, 200) << up.text;
  EXPECT_EQ(up.body["from"], "2026-12-15T00:00:00Z");
  EXPECT_EQ(up.body["to"], "2027-01-14T00:00:00Z");
  const json& items = up.body["items"];
  ASSERT_GE(items.size(), 2u) << up.text;
  // Sorted by instant: the lease end first, with the job it moves.
  EXPECT_EQ(items[0]["kind"], "lease_end") << up.text;
  EXPECT_EQ(items[0]["at"], "2026-12-25T00:00:00Z");
  EXPECT_EQ(items[0]["lease"], ending);
  ASSERT_EQ(items[0]["jobs"].size(), 1u) << up.text;
  EXPECT_EQ(items[0]["jobs"][0]["job"], bell);
  EXPECT_EQ(items[0]["jobs"][0]["name"], "bell-train");
  EXPECT_EQ(items[0]["jobs"][0]["action"], "checkpoint_and_move");
  for (std::size_t i = 1; i < items.size(); ++i) EXPECT_LE(items[i - 1]["at"], items[i]["at"]);
  // The dated rule of 2027-01-01, with its citation and the hanshan job.
  auto rule = std::find_if(items.begin(), items.end(), [](const json& j) {
    return j["kind"] == "rule_change" && j["rule"] == "scenario.close-remote-access.lease-run";
  });
  ASSERT_NE(rule, items.end()) << up.text;
  EXPECT_EQ((*rule)["at"], "2027-01-01T00:00:00Z");
  ASSERT_EQ((*rule)["citation"].size(), 1u);
  EXPECT_FALSE((*rule)["citation"][0].get<std::string>().empty());
  ASSERT_EQ((*rule)["jobs"].size(), 1u) << rule->dump();
  EXPECT_EQ((*rule)["jobs"][0]["job"], han);

  // Five days ahead: nothing yet.
  EXPECT_TRUE(server_.get("/v1/upcoming?days=5", admin()).body["items"].empty());
  // bellhollow sees its lease end, the rule, and none of hanshan's jobs.
  const std::string tenant = server_.make_user("bo", "tenant-admin", "bellhollow");
  const json theirs = server_.get("/v1/upcoming", tenant).body;
  ASSERT_GE(theirs["items"].size(), 2u) << theirs.dump();
  EXPECT_EQ(theirs["items"][0]["lease"], ending);
  for (const json& item : theirs["items"]) {
    for (const json& j : item["jobs"]) EXPECT_EQ(j["org"], "bellhollow") << item.dump();
  }
}

TEST_F(ConsoleApiTest, JobsAreSortedFilteredAndPagedWithTheirQueuePositions) {
  // Five jobs wait (no lease), one runs on bellhollow's lease.
  lease("bellhollow", "sg-tuas-1-h100", 8, "2027-06-01T00:00:00Z");
  const std::string placed = submit("bellhollow", 8, "placed-one");
  schedule();
  std::vector<std::string> queued;
  const int gpus[] = {4, 64, 16, 32, 8};
  for (int i = 0; i < 5; ++i) {
    queued.push_back(submit("tsukimi", gpus[i], "sweep-" + std::to_string(i), "h200"));
  }
  // Submitted since the pass: behind every queued job.
  EXPECT_EQ(server_.get("/v1/jobs/" + queued[4], admin()).body["queue_position"], 5);
  schedule();
  EXPECT_TRUE(server_.get("/v1/jobs/" + placed, admin()).body["queue_position"].is_null());

  Answer by_position = server_.get("/v1/jobs?sort=position", admin());
  ASSERT_EQ(by_position.status, 200) << by_position.text;
  EXPECT_EQ(by_position.body["total"], 6);
  EXPECT_EQ(by_position.body["offset"], 0);
  const json& items = by_position.body["items"];
  ASSERT_EQ(items.size(), 6u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(items[i]["id"], queued[i]);  // the queue policy (EASY): arrival order
    EXPECT_EQ(items[i]["queue_position"], i + 1);
  }
  EXPECT_EQ(items[5]["id"], placed);  // not queued: last

  Answer by_gpus = server_.get("/v1/jobs?sort=gpus&order=desc&state=queued", admin());
  EXPECT_EQ(ids(by_gpus.body),
            (std::vector<std::string>{queued[1], queued[3], queued[2], queued[4], queued[0]}));
  Answer page = server_.get("/v1/jobs?sort=gpus&offset=2&limit=2", admin());
  EXPECT_EQ(page.body["total"], 6);
  EXPECT_EQ(page.body["offset"], 2);
  // 4, 8 (the placed job: the smaller id), 8, 16, ...
  EXPECT_EQ(ids(page.body), (std::vector<std::string>{queued[4], queued[2]}));
  EXPECT_EQ(ids(server_.get("/v1/jobs?q=SWEEP-3", admin()).body),
            (std::vector<std::string>{queued[3]}));
  EXPECT_EQ(ids(server_.get("/v1/jobs?site=sg-tuas-1", admin()).body),
            (std::vector<std::string>{placed}));
  EXPECT_EQ(server_.get("/v1/jobs?chip=h200&org=tsukimi", admin()).body["total"], 5);
  EXPECT_EQ(server_.get("/v1/jobs?pool=sg-tuas-1-h100&sort=name", admin()).body["total"], 1);

  // The cursor still pages by id, with the total of every match.
  Answer first = server_.get("/v1/jobs?limit=4", admin());
  EXPECT_EQ(first.body["total"], 6);
  EXPECT_TRUE(first.body["offset"].is_null());
  ASSERT_TRUE(first.body["next"].is_string()) << first.text;
  Answer second =
      server_.get("/v1/jobs?limit=4&after=" + first.body["next"].get<std::string>(), admin());
  EXPECT_EQ(second.body["items"].size(), 2u);
  EXPECT_TRUE(second.body["next"].is_null());
  EXPECT_EQ(second.body["total"], 6);

  // A cancelled job leaves the queue; the next pass ranks the rest 1..4.
  ASSERT_EQ(server_.post("/v1/jobs/" + queued[1] + "/cancel", admin(), nullptr).status, 200);
  schedule();
  Answer after = server_.get("/v1/jobs?state=queued&sort=position", admin());
  ASSERT_EQ(after.body["items"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(after.body["items"][i]["queue_position"], i + 1);
}

TEST_F(ConsoleApiTest, RuleChangesListTheDatedRulesWithTheirCitations) {
  const std::string engineer = server_.make_user("li", "engineer", "hanshan-sg");
  Answer changes = server_.get("/v1/rules/changes?from=2026-12-01T00:00:00Z&days=60", engineer);
  ASSERT_EQ(changes.status, 200) << changes.text;
  ASSERT_EQ(changes.body["items"].size(), 1u) << changes.text;
  const json& c = changes.body["items"][0];
  EXPECT_EQ(c["at"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(c["rule"], "scenario.close-remote-access.lease-run");
  EXPECT_EQ(c["kind"], "takes_effect");
  EXPECT_FALSE(c["summary"].get<std::string>().empty());
  EXPECT_NE(c["citation"][0].get<std::string>().find("S26"), std::string::npos) << c.dump();
  // The 2026-01-15 rules of the default pack lie before the window.
  Answer year = server_.get("/v1/rules/changes?from=2026-01-01T00:00:00Z&days=30", engineer);
  EXPECT_GE(year.body["items"].size(), 4u) << year.text;
  Answer bad = server_.get("/v1/rules/changes?from=yesterday", engineer);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "from");
}

// The checks of `straits audit verify-bundle` (audit_command.cc): each
// event's hash, the links, and the signed heads against the bundle's key.
std::vector<std::string> bundle_problems(const json& bundle) {
  std::vector<std::string> problems;
  std::vector<store::AuditEvent> events;
  for (const json& j : bundle["events"]) {
    store::AuditEvent e;
    e.seq = j["seq"];
    e.at = Instant::from_unix_microseconds(j["at_us"].get<std::int64_t>());
    e.actor = j["actor"];
    e.action = j["action"];
    e.subject = j["subject"];
    e.before_json = j["before_json"];
    e.after_json = j["after_json"];
    e.decision_json = j["decision_json"];
    e.prev_hash = j["prev_hash"];
    e.hash = j["hash"];
    if (store::audit_hash(e) != e.hash) problems.push_back("event altered");
    if (!events.empty() && e.prev_hash != events.back().hash) problems.push_back("broken link");
    events.push_back(e);
  }
  std::vector<store::SignedHead> heads;
  for (const json& j : bundle["heads"]) {
    heads.push_back({j["seq"].get<std::int64_t>(), j["hash"].get<std::string>(),
                     Instant::from_unix_microseconds(j["at_us"].get<std::int64_t>()),
                     j["public_key"].get<std::string>(), j["signature"].get<std::string>()});
  }
  store::AuditVerification v;
  store::verify_signed_heads(events, heads, bundle["public_key"], nullptr, v);
  for (auto& p : v.problems) problems.push_back(p);
  if (heads.empty()) problems.push_back("no signed head");
  return problems;
}

TEST_F(ConsoleApiTest, AuditExportIsABundleThatVerifies) {
  lease("bellhollow", "sg-tuas-1-h100", 8, "2027-06-01T00:00:00Z");
  submit("bellhollow", 8, "audited");
  const std::string auditor = server_.make_user("audrey", "auditor");
  Answer all = server_.get("/v1/audit/export", auditor);
  ASSERT_EQ(all.status, 200) << all.text;
  EXPECT_EQ(all.body["format"], "straits-audit-bundle/1");
  EXPECT_EQ(all.body["from_seq"], 1);
  EXPECT_EQ(all.body["public_key"],
            server_.get("/v1/audit/public-key", auditor).body["public_key"]);
  EXPECT_GE(all.body["events"].size(), 4u);
  EXPECT_EQ(bundle_problems(all.body), std::vector<std::string>{});

  Answer part = server_.get("/v1/audit/export?from_seq=2&to_seq=3", auditor);
  ASSERT_EQ(part.status, 200) << part.text;
  EXPECT_EQ(part.body["events"][0]["seq"], 2);
  EXPECT_GE(part.body["to_seq"].get<int>(), 3);  // on to the head that covers 3
  EXPECT_EQ(bundle_problems(part.body), std::vector<std::string>{});
  // One altered byte is found.
  json altered = part.body;
  altered["events"][0]["actor"] = "someone-else";
  EXPECT_FALSE(bundle_problems(altered).empty());
}

// The audit log newest first and filtered on the server: the Audit page's
// view of a long log, one request a page.
TEST_F(ConsoleApiTest, AuditIsReadNewestFirstAndFilteredOnTheServer) {
  lease("bellhollow", "sg-tuas-1-h100", 8, "2027-06-01T00:00:00Z");
  for (int i = 0; i < 4; ++i) submit("bellhollow", 8, "audited-" + std::to_string(i));
  server_.clock().advance(Duration::hours(1));
  const std::string late = submit("bellhollow", 8, "late");
  const std::string auditor = server_.make_user("audrey", "auditor");
  // Everything, oldest first, as the reference.
  Answer all = server_.get("/v1/audit?limit=1000", auditor);
  ASSERT_EQ(all.status, 200) << all.text;
  const json& every = all.body["items"];
  ASSERT_GE(every.size(), 8u);
  EXPECT_TRUE(all.body["next"].is_null());

  // Newest first, three a page, followed to the end: the same events reversed.
  std::vector<std::int64_t> seqs;
  std::string before;
  for (int page = 0; page < 100; ++page) {
    Answer a = server_.get("/v1/audit?order=desc&limit=3" + before, auditor);
    ASSERT_EQ(a.status, 200) << a.text;
    EXPECT_LE(a.body["items"].size(), 3u);
    for (const json& e : a.body["items"]) seqs.push_back(e["seq"]);
    if (a.body["next"].is_null()) break;
    before = "&before=" + a.body["next"].get<std::string>();
  }
  std::vector<std::int64_t> expected;
  for (auto it = every.rbegin(); it != every.rend(); ++it) expected.push_back((*it)["seq"]);
  EXPECT_EQ(seqs, expected);

  // An action prefix, newest first: the five submissions, the late one first.
  Answer submits = server_.get("/v1/audit?order=desc&action=job.submit", auditor);
  ASSERT_EQ(submits.status, 200) << submits.text;
  ASSERT_EQ(submits.body["items"].size(), 5u) << submits.text;
  EXPECT_EQ(submits.body["items"][0]["subject"], "jobs/" + late);
  for (const json& e : submits.body["items"]) {
    EXPECT_TRUE(e["action"].get<std::string>().starts_with("job.submit"));
  }
  // A subject, and a time range: only what matches, oldest first.
  Answer one = server_.get("/v1/audit?subject=jobs/" + late, auditor);
  ASSERT_EQ(one.status, 200) << one.text;
  ASSERT_FALSE(one.body["items"].empty());
  for (const json& e : one.body["items"]) EXPECT_EQ(e["subject"], "jobs/" + late);
  const std::string cut = every.back()["at"];
  Answer since = server_.get("/v1/audit?action=job.submit&since=" + cut, auditor);
  ASSERT_EQ(since.status, 200) << since.text;
  ASSERT_EQ(since.body["items"].size(), 1u) << since.text;
  EXPECT_EQ(since.body["items"][0]["subject"], "jobs/" + late);
  Answer until = server_.get("/v1/audit?action=job.submit&until=" + cut, auditor);
  EXPECT_EQ(until.body["items"].size(), 4u) << until.text;
  // Nothing matches: an empty page, the whole log scanned, nowhere to go on.
  Answer none = server_.get("/v1/audit?actor=nobody-at-all", auditor);
  EXPECT_TRUE(none.body["items"].empty());
  EXPECT_TRUE(none.body["next"].is_null());
  EXPECT_GE(none.body["scanned"].get<std::size_t>(), every.size());
}

}  // namespace
}  // namespace straits::api
