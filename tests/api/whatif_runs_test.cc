// What-if runs in the background (issue 18): the shipped scenarios listed; two scenarios
// compared by the server (small ones, tests/data/scenarios, resolved as the shipped ones are),
// reaching "done" with the summary of `sim compare` and its page; the live store's last days
// replayed under a proposed rule set; and the runner's progress, stage by stage, and its
// cancellation, driven step by step by a work function the test holds.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "api/internal/whatif.h"
#include "api/server_fixture.h"
#include "support/wait_until.h"

namespace straits::api {
namespace {

namespace fs = std::filesystem;
using testing_util::Answer;
using testing_util::json;
using testing_util::TestServer;

const fs::path kSource = STRAITS_SOURCE_DIR;

// Two small scenarios over the shipped catalog (tests/data/scenarios): the default rules, and
// the remote-access loophole closed a day in (hanshan-sg's Singapore lease becomes unusable).
const fs::path kSmallScenarios = kSource / "tests" / "data" / "scenarios";

json wait_done(const TestServer& server, const std::string& token, const std::string& id) {
  json run;
  EXPECT_TRUE(testing::wait_until(
      [&] {
        run = server.get("/v1/whatif/" + id, token).body;
        return run.value("state", "") == "done" || run.value("state", "") == "failed";
      },
      std::chrono::minutes(5), std::chrono::milliseconds(50)))
      << run.dump();
  return run;
}

TEST(WhatifRuns, TheShippedScenariosAreListed) {
  TestServer server;
  server.options().scenarios_dir = kSource / "examples" / "scenarios";
  server.start();
  const std::string auditor = server.make_user("audit", "auditor");
  Answer a = server.get("/v1/scenarios", auditor);
  ASSERT_EQ(a.status, 200) << a.text;
  std::vector<std::string> ids;
  for (const json& s : a.body["items"]) {
    ids.push_back(s["id"]);
    EXPECT_FALSE(s.value("title", "").empty()) << s.dump();
    EXPECT_EQ(s["file"], s["id"].get<std::string>() + ".yaml");
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"close-remote-access", "hybrid-2025"}));
}

TEST(WhatifRuns, TwoScenariosAreComparedInTheBackground) {
  TestServer server;
  server.options().scenarios_dir = kSmallScenarios;
  server.options().scenarios_root = kSource;
  server.start();
  const std::string compliance = server.make_user("cco", "compliance");
  const std::string auditor = server.make_user("audit", "auditor");
  Answer started = server.post(
      "/v1/whatif", compliance,
      {{"baseline", {{"scenario", "small-base"}}}, {"whatif", {{"scenario", "small-closed"}}}});
  ASSERT_EQ(started.status, 202) << started.text;
  EXPECT_EQ(started.body["state"], "queued");
  EXPECT_EQ(started.body["created_by"], "cco");
  const std::string id = started.body["id"];

  json run = wait_done(server, auditor, id);
  ASSERT_EQ(run["state"], "done") << run.dump();
  EXPECT_EQ(run["progress"]["done"], 100);
  EXPECT_EQ(run["progress"]["total"], 100);
  EXPECT_FALSE(run["finished_at"].is_null());
  // The summary is compare.json: the same jobs on both sides, and the closed loophole shows.
  const json& summary = run["summary"];
  EXPECT_EQ(summary["baseline"]["scenario"], "small-base");
  EXPECT_EQ(summary["whatif"]["scenario"], "small-closed");
  EXPECT_EQ(summary["jobs"], 60);
  EXPECT_TRUE(summary["metrics"].contains("mean_jct_hours")) << summary.dump();
  // The list has it, newest first, without the summary.
  Answer list = server.get("/v1/whatif", auditor);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["id"], id);
  EXPECT_FALSE(list.body["items"][0].contains("summary"));

  // The page: with a token, or with the key of the run's report link; its own CSP.
  Answer page = server.get("/v1/whatif/" + id + "/report", auditor);
  ASSERT_EQ(page.status, 200) << page.text;
  EXPECT_NE(page.text.find("<html"), std::string::npos);
  EXPECT_NE(page.text.find("small-closed"), std::string::npos);
  httplib::Client client("127.0.0.1", server.port());
  auto linked = client.Get(run["report"].get<std::string>());
  ASSERT_TRUE(linked);
  EXPECT_EQ(linked->status, 200);
  EXPECT_EQ(linked->body, page.text);
  EXPECT_EQ(linked->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(linked->get_header_value("Content-Security-Policy").find("sandbox"), std::string::npos);
}

TEST(WhatifRuns, TheLiveStoreIsReplayedUnderAProposedRuleSet) {
  TestServer server;
  server.start();
  const std::string admin = server.admin_token();
  // hanshan-sg (China-parented) and bellhollow train on Singapore H100s.
  for (const char* org : {"hanshan-sg", "bellhollow"}) {
    ASSERT_EQ(
        server.lease(org, "sg-tuas-1-h100", 64, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")
            .status,
        201);
    for (int i = 0; i < 6; ++i) {
      Answer job = server.post("/v1/jobs", admin,
                               {{"org", org},
                                {"team", "llm"},
                                {"gpus", 8},
                                {"work", 8 * 36},  // GPU-hours: a day and a half on 8 GPUs
                                {"eligible_chips", {"h100-sxm"}},
                                {"command", {"python", "train.py"}}});
      ASSERT_EQ(job.status, 201) << job.text;
    }
  }
  server.clock().advance(Duration::days(2));
  // The proposal: the default pack and close-remote-access from a day after the jobs came.
  auto sources = policy::read_pack_sources(
      {kSource / "rules" / "default", kSource / "rules" / "scenarios" / "close-remote-access"});
  ASSERT_TRUE(sources) << sources.error().to_string();
  json packs = json::array();
  for (const policy::PackSource& pack : *sources) {
    json files = json::object();
    for (const auto& [file, text] : pack.files) files[file] = text;
    packs.push_back({{"name", pack.name}, {"files", files}});
  }
  Answer pushed = server.post(
      "/v1/rulesets", admin,
      {{"name", "close"}, {"packs", packs}, {"params", {{"close_from", "2026-01-02"}}}});
  ASSERT_EQ(pushed.status, 201) << pushed.text;
  const std::string set = pushed.body["id"];

  Answer started =
      server.post("/v1/whatif", admin,
                  {{"baseline", {{"live", {{"days", 3}}}}}, {"whatif", {{"ruleset", set}}}});
  ASSERT_EQ(started.status, 202) << started.text;
  json run = wait_done(server, admin, started.body["id"]);
  ASSERT_EQ(run["state"], "done") << run.dump();
  const json& summary = run["summary"];
  EXPECT_EQ(summary["jobs"], 12) << summary.dump();
  EXPECT_EQ(summary["baseline"]["scenario"], "in-force");
  EXPECT_EQ(summary["whatif"]["scenario"], "proposed");
  // hanshan-sg's jobs lose the Singapore pool under the proposal.
  EXPECT_LT(summary["states"]["completed"]["whatif"].get<double>(),
            summary["states"]["completed"]["baseline"].get<double>())
      << summary.dump();
  // An unknown set is named.
  Answer unknown =
      server.post("/v1/whatif", admin,
                  {{"baseline", {{"live", {{"days", 3}}}}}, {"whatif", {{"ruleset", "rs-99"}}}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["field"], "whatif.ruleset");
}

// The runner alone, its work driven by the test: progress moves stage by stage.
class Gate {
 public:
  void open(int step) {
    std::lock_guard lock(mutex_);
    step_ = step;
    changed_.notify_all();
  }
  void wait(int step) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return step_ >= step; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int step_ = 0;
};

TEST(WhatifRunner, ProgressMovesAsTheRunsGo) {
  ManualClock clock(testing_util::at("2026-01-01T00:00:00Z"));
  internal::WhatifRunner runner(clock, fs::temp_directory_path());
  Gate gate;
  auto queued = runner.submit(
      {json{{"scenario", "a"}}, json{{"scenario", "b"}}}, "tester",
      [&gate](const fs::path&, const sim::CompareOptions& options) -> Result<sim::Comparison> {
        options.on_run(0, "a");
        options.on_progress(0, 0.5);
        gate.wait(1);
        options.on_run(1, "b");
        options.on_progress(1, 0.5);
        gate.wait(2);
        return Error(ErrorCode::kInternal, "the test's work ends here");
      });
  ASSERT_TRUE(queued);
  const std::string id = (*queued)["id"];
  auto progress = [&] { return (*runner.get(id))["progress"]; };
  ASSERT_TRUE(
      testing::wait_until([&] { return progress()["done"] == 25; }, std::chrono::seconds(30)));
  EXPECT_EQ(progress()["stage"], "baseline");
  EXPECT_EQ((*runner.get(id))["state"], "running");
  gate.open(1);
  ASSERT_TRUE(
      testing::wait_until([&] { return progress()["done"] == 75; }, std::chrono::seconds(30)));
  EXPECT_EQ(progress()["stage"], "whatif");
  gate.open(2);
  ASSERT_TRUE(testing::wait_until([&] { return (*runner.get(id))["state"] == "failed"; },
                                  std::chrono::seconds(30)));
  EXPECT_NE((*runner.get(id))["error"].get<std::string>().find("the test's work ends here"),
            std::string::npos);
}

TEST(WhatifRunner, StopCancelsTheRunAndTheQueue) {
  ManualClock clock(testing_util::at("2026-01-01T00:00:00Z"));
  std::atomic<bool> cancelled{false};
  std::string first, second;
  {
    internal::WhatifRunner runner(clock, fs::temp_directory_path());
    // Runs until told to stop, as a long simulation would.
    auto endless = [&cancelled](const fs::path&,
                                const sim::CompareOptions& options) -> Result<sim::Comparison> {
      while (options.on_progress(0, 0.1)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      cancelled = true;
      return Error(ErrorCode::kUnavailable, "cancelled");
    };
    first =
        (*runner.submit({json{{"scenario", "a"}}, json{{"scenario", "b"}}}, "t", endless))["id"];
    second =
        (*runner.submit({json{{"scenario", "a"}}, json{{"scenario", "b"}}}, "t", endless))["id"];
    ASSERT_TRUE(testing::wait_until([&] { return (*runner.get(first))["state"] == "running"; },
                                    std::chrono::seconds(30)));
    runner.stop();
    EXPECT_EQ((*runner.get(second))["state"], "failed");
    EXPECT_FALSE(runner.submit({json{{"scenario", "a"}}, json{{"scenario", "b"}}}, "t", endless));
  }  // joins the worker: returns only once the run saw the cancellation
  EXPECT_TRUE(cancelled);
}

}  // namespace
}  // namespace straits::api
