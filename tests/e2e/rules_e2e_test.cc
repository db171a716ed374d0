// Rules changed while straits runs (issue 17), end to end: a server on the
// default pack alone, with agents in Singapore (local backend) and at
// hanshan's own cluster (Slurm), runs hanshan's job on its leased H100s. A
// compliance officer pushes close-remote-access with its date two minutes
// ahead, reads the diff against the rules in force and the impact on the
// live fleet, and adopts it, without a restart: the job is checkpointed and
// moved home before the instant and finishes there; the audit log verifies,
// and every decision names the hash of the rule set it was made under.
#include <gtest/gtest.h>

#include "e2e/e2e_fixture.h"
#include "policy/engine.h"

namespace straits::e2e {
namespace {

class RuleChangeTest : public MovingJobTest {
 protected:
  RuleChangeTest() {
    // The default pack alone: close-remote-access arrives through the API.
    server_.options().rule_dirs.pop_back();
  }
  void SetUp() override {
    MovingJobTest::SetUp();
    start_agents();
  }

  // The packs of `dirs` as a push's "packs".
  static json packs_of(const std::vector<std::string>& dirs) {
    std::vector<std::filesystem::path> paths;
    for (const auto& d : dirs) paths.push_back(std::filesystem::path(STRAITS_SOURCE_DIR) / d);
    auto sources = policy::read_pack_sources(paths);
    EXPECT_TRUE(sources) << sources.error().to_string();
    json packs = json::array();
    for (const auto& p : *sources) {
      json files = json::object();
      for (const auto& [name, text] : p.files) files[name] = text;
      packs.push_back({{"name", p.name}, {"files", files}});
    }
    return packs;
  }

  // Every value of `key` in the items of `list` (an array of objects).
  static std::vector<std::string> values(const json& list, const char* key) {
    std::vector<std::string> out;
    for (const json& item : list) {
      const json& v = item[key];
      if (v.is_array()) {
        for (const json& x : v) out.push_back(x.get<std::string>());
      } else if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
    return out;
  }
  static bool has(const std::vector<std::string>& list, const std::string& x) {
    return std::find(list.begin(), list.end(), x) != list.end();
  }
};

TEST_F(RuleChangeTest, APushedRuleIsDiffedWeighedAdoptedAndMovesTheJobBeforeItBites) {
  // make run's world: hanshan's group leases H100s in Singapore and H200s in
  // Malaysia; bellhollow (Japan) leases H100s in Tokyo.
  const Answer sg =
      server_.lease("hanshan", "sg-tuas-1-h100", 8, "2026-12-01T00:00:00Z", "2027-06-01T00:00:00Z");
  ASSERT_EQ(sg.status, 201) << sg.text;
  const Answer my = server_.lease("hanshan-sg", "my-sedenak-1-h200", 8, "2026-12-01T00:00:00Z",
                                  "2027-06-01T00:00:00Z");
  ASSERT_EQ(my.status, 201) << my.text;
  const Answer jp = server_.lease("bellhollow", "jp-tokyo-1-h100", 8, "2026-12-01T00:00:00Z",
                                  "2027-06-01T00:00:00Z");
  ASSERT_EQ(jp.status, 201) << jp.text;
  const std::string id = submit(60);
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "running" && last_step(id) >= 8; }, 60))
      << job(id).dump(2);
  ASSERT_EQ(job(id)["placement"]["site"], "sg-tuas-1");
  // Under the default pack nothing ends the placement early.
  EXPECT_TRUE(job(id)["placement"]["must_leave_by"].is_null()) << job(id).dump(2);
  const std::string initial = job(id)["placement"]["ruleset"];
  EXPECT_EQ(initial.size(), 64u) << job(id).dump(2);

  // Two minutes ahead, to the second.
  const Instant bites = Instant::from_unix_microseconds(
      (server_.clock().now().unix_microseconds() / 1'000'000 + 120) * 1'000'000);
  const std::string compliance = server_.make_user("officer", "compliance");
  const Answer pushed =
      server_.post("/v1/rulesets", compliance,
                   {{"name", "close-remote-access, now"},
                    {"packs", packs_of({"rules/default", "rules/scenarios/close-remote-access"})},
                    {"params", {{"close_from", to_iso8601(bites)}}}});
  ASSERT_EQ(pushed.status, 201) << pushed.text;
  const std::string set = pushed.body["id"];
  const std::string hash = pushed.body["hash"];
  ASSERT_NE(hash, initial);

  // The diff names hanshan's leased H100/H200 pools, from the instant, and
  // not bellhollow's.
  const Answer diff =
      server_.post("/v1/rulesets/" + set + "/diff?against=adopted", compliance, json::object());
  ASSERT_EQ(diff.status, 200) << diff.text;
  std::vector<std::string> pools, orgs, froms;
  for (const json& g : diff.body["groups"]) {
    if (g["action"] != "lease" || g["with"]["outcome"] != "deny") continue;
    for (const auto& p : values(json::array({g}), "pools")) pools.push_back(p);
    for (const auto& o : values(json::array({g}), "orgs")) orgs.push_back(o);
    froms.push_back(g["from"]);
  }
  EXPECT_TRUE(has(pools, "sg-tuas-1-h100")) << diff.text;
  EXPECT_TRUE(has(pools, "my-sedenak-1-h200")) << diff.text;
  EXPECT_TRUE(has(orgs, "hanshan-sg")) << diff.text;
  EXPECT_FALSE(has(orgs, "bellhollow")) << diff.text;
  EXPECT_TRUE(has(froms, to_iso8601(bites))) << diff.text;

  // The impact names the leases and the running job the world would lose,
  // and where the job could go.
  const Answer impact = server_.post("/v1/rulesets/" + set + "/impact", compliance, json::object());
  ASSERT_EQ(impact.status, 200) << impact.text;
  const auto lost = values(impact.body["leases"], "lease");
  EXPECT_TRUE(has(lost, sg.body["id"])) << impact.text;
  EXPECT_TRUE(has(lost, my.body["id"])) << impact.text;
  EXPECT_FALSE(has(lost, jp.body["id"])) << impact.text;
  ASSERT_EQ(impact.body["running"].size(), 1u) << impact.text;
  EXPECT_EQ(impact.body["running"][0]["job"], id);
  EXPECT_TRUE(has(values(impact.body["running"], "could_go"), "cn-ulanqab-1-h800")) << impact.text;

  // Adopted now, without a restart: the foresight sees the instant.
  ASSERT_EQ(server_.post("/v1/rulesets/" + set + "/propose", compliance, json::object()).status,
            200);
  const Answer adopted = server_.post("/v1/rulesets/" + set + "/adopt", compliance, json::object());
  ASSERT_EQ(adopted.status, 200) << adopted.text;
  ASSERT_TRUE(
      wait_until([&] { return job(id)["placement"]["must_leave_by"] == to_iso8601(bites); }, 30))
      << job(id).dump(2);
  // The placement was made under the initial set; its cut is the new one's.
  EXPECT_EQ(job(id)["placement"]["ruleset"], initial);
  // 20 s (100 GB at 5 GB/s) before the instant the checkpoint is asked for.
  moves_and_finishes(id, bites - Duration::seconds(19), 60);

  // Decisions name the set they were made under (the job left before the
  // instant: ask at it).
  const Answer decision = server_.post("/v1/decisions", compliance,
                                       {{"action", "lease"},
                                        {"org", "hanshan-sg"},
                                        {"pool", "sg-tuas-1-h100"},
                                        {"at", to_iso8601(bites)}});
  ASSERT_EQ(decision.status, 200) << decision.text;
  EXPECT_EQ(decision.body["decision"], "deny");
  EXPECT_EQ(decision.body["ruleset"], hash);
  const Answer audit = server_.get("/v1/audit/verify", admin_);
  ASSERT_EQ(audit.status, 200) << audit.text;
  EXPECT_TRUE(audit.body["ok"].get<bool>()) << audit.text;
  // The move's events name the new set.
  const Answer events = server_.get("/v1/jobs/" + id + "/events", admin_);
  bool moved_under_new = false;
  for (const json& e : events.body["items"]) {
    if (e["kind"] == "moved" || e["kind"] == "placed") {
      if (e["data"].value("ruleset", "") == hash) moved_under_new = true;
    }
  }
  EXPECT_TRUE(moved_under_new) << events.text;
}

}  // namespace
}  // namespace straits::e2e
