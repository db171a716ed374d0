// The impact of a proposed rule set over a World loaded from a real store: a
// server (SQLite, the shipped catalog, the default pack) given a lease and
// jobs through its API and one scheduling pass, stopped, and its store loaded
// into a World as the server loads it. The proposal lays close-remote-access
// over the default pack, from 2026-12-20.
#include "api/internal/impact.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "api/server_fixture.h"
#include "catalog/load.h"
#include "sim/workload.h"
#include "store/store.h"

namespace straits::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_util::Answer;
using testing_util::at;
using testing_util::TestServer;

const fs::path kSource(STRAITS_SOURCE_DIR);

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ImpactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    const std::string admin = server_.admin_token();
    ASSERT_EQ(server_
                  .lease("hanshan-sg", "sg-tuas-1-h100", 16, "2026-12-01T00:00:00Z",
                         "2027-01-31T00:00:00Z")
                  .status,
              201);
    // Runs on the lease (it may also use its group's own H800); then one
    // that finds no room there and waits.
    running_ = submit({{"org", "hanshan-sg"},
                       {"gpus", 8},
                       {"work", 20000},
                       {"checkpoint_gb", 100},
                       {"eligible_chips", {"h100-sxm", "h800"}}});
    queued_ = submit({{"org", "hanshan-sg"},
                      {"gpus", 16},
                      {"work", 800},
                      {"eligible_chips", {"h100-sxm"}},
                      {"datasets", {"bellhollow-web-crawl-2025"}}});
    auto pass = server_.server().schedule_now();
    ASSERT_TRUE(pass) << pass.error().message();
    ASSERT_EQ(pass->started, 1u);
    server_.stop();

    ManualClock clock(kNow);
    auto store = store::Store::open(
        {store::StoreUrl::Kind::kSqlite, (server_.dir() / "straits.db").string()}, clock);
    ASSERT_TRUE(store) << store.error().message();
    auto snapshot = (*store)->load();
    ASSERT_TRUE(snapshot) << snapshot.error().message();
    for (const char* file : {"chips.yaml", "countries.yaml"}) {
      world_.base_texts[file] = read_text(kSource / "catalog" / file);
    }
    world_.catalog_name = "catalog";
    world_.rule_dirs = {kSource / "rules" / "default"};
    Status loaded = world_.load(std::move(snapshot).value());
    ASSERT_TRUE(loaded) << loaded.error().message();
  }

  std::string submit(const json& spec) {
    Answer job = server_.post("/v1/jobs", server_.admin_token(), spec);
    EXPECT_EQ(job.status, 201) << job.text;
    return job.body.value("id", "");
  }

  static inline const Instant kNow = at("2026-12-07T00:00:00Z");
  TestServer server_{kNow};
  internal::World world_;
  std::string running_, queued_;
};

TEST_F(ImpactTest, NamesTheLeaseAndJobsTheProposalWouldTake) {
  const catalog::Catalog& catalog = world_.policy->catalog;
  auto proposed = policy::Engine::load(
      catalog,
      {kSource / "rules" / "default", kSource / "rules" / "scenarios" / "close-remote-access"},
      {{"close_from", "2026-12-20"}});
  ASSERT_TRUE(proposed) << proposed.error().message();
  std::shared_lock lock(world_.mutex);
  const json impact = json::parse(internal::ruleset_impact_json(world_, *proposed, kNow, kNow));
  EXPECT_EQ(impact["from"], "2026-12-07T00:00:00Z");
  ASSERT_EQ(impact["leases"].size(), 1u) << impact.dump(2);
  const json& lease = impact["leases"][0];
  EXPECT_EQ(lease["lease"].get<std::string>().rfind("l-", 0), 0u);
  EXPECT_EQ(lease["org"], "hanshan-sg");
  EXPECT_EQ(lease["pool"], "sg-tuas-1-h100");
  EXPECT_EQ(lease["from"], "2026-12-20T00:00:00Z");
  EXPECT_EQ(lease["outcome"], "deny");
  EXPECT_EQ(lease["rule"], "scenario.close-remote-access.lease-run");

  ASSERT_EQ(impact["running"].size(), 1u) << impact.dump(2);
  const json& running = impact["running"][0];
  EXPECT_EQ(running["job"], running_);
  EXPECT_EQ(running["pool"], "sg-tuas-1-h100");
  EXPECT_EQ(running["checkpoint_by"], "2026-12-19T23:59:40Z");  // 100 GB at 5 GB/s
  EXPECT_EQ(running["could_go"], json::array({"cn-ulanqab-1-h800"}));

  ASSERT_EQ(impact["queued"].size(), 1u) << impact.dump(2);
  EXPECT_EQ(impact["queued"][0]["job"], queued_);
  EXPECT_EQ(impact["queued"][0]["nowhere_from"], "2026-12-20T00:00:00Z");
  EXPECT_TRUE(impact["datasets"].empty());  // a public US crawl needs no approval
  ASSERT_EQ(impact["orgs"].size(), 1u);
  EXPECT_EQ(
      impact["orgs"][0],
      json({{"org", "hanshan-sg"}, {"leases", 1}, {"running", 1}, {"queued", 1}, {"datasets", 0}}));
  // The lease's 16 GPUs on the last day of ISO week 51 (Sunday 12-20),
  // at the pool's list price, 4.2008 USD.
  ASSERT_FALSE(impact["weeks"].empty());
  const json& week = impact["weeks"][0];
  EXPECT_EQ(week["week"], "2026-W51");
  EXPECT_EQ(week["start"], "2026-12-14T00:00:00Z");
  EXPECT_DOUBLE_EQ(week["lease_gpu_hours"].get<double>(), 16 * 24);
  EXPECT_EQ(week["lease_money"], json::array({"1613.1072 USD"}));
}

TEST_F(ImpactTest, TheRecentJobsAreANativeWorkloadTheSimulatorReads) {
  std::string text;
  {
    std::shared_lock lock(world_.mutex);
    text =
        internal::native_workload_jsonl(world_, kNow - Duration::days(1), kNow + Duration::days(1));
    EXPECT_TRUE(internal::native_workload_jsonl(world_, kNow - Duration::days(2), kNow).empty());
  }
  const fs::path file = server_.dir() / "recent.jsonl";
  std::ofstream(file) << text;
  auto jobs = sim::read_workload(file, kNow);
  ASSERT_TRUE(jobs) << jobs.error().message() << "\n" << text;
  ASSERT_EQ(jobs->size(), 2u);
  const sched::Job& first = (*jobs)[0];
  EXPECT_EQ(first.id.str(), running_);
  EXPECT_EQ(first.org, OrgId("hanshan-sg"));
  EXPECT_EQ(first.gpus, 8);
  EXPECT_EQ(first.work, 20000);
  EXPECT_EQ(first.checkpoint_gb, 100);
  EXPECT_EQ(first.eligible_chips, (std::vector<ChipId>{ChipId("h100-sxm"), ChipId("h800")}));
  EXPECT_EQ(first.submit, kNow);
  EXPECT_EQ((*jobs)[1].datasets, std::vector<DatasetId>{DatasetId("bellhollow-web-crawl-2025")});
}

TEST_F(ImpactTest, TheCatalogFilesLoadAsTheCatalogInForce) {
  std::map<std::string, std::string> files;
  {
    std::shared_lock lock(world_.mutex);
    files = internal::catalog_files(world_);
  }
  catalog::CatalogTexts texts(files.begin(), files.end());
  auto loaded = catalog::load_catalog(texts, "stored");
  ASSERT_TRUE(loaded) << loaded.error().message();
  const catalog::Catalog& in_force = world_.policy->catalog;
  EXPECT_EQ(loaded->pools().size(), in_force.pools().size());
  EXPECT_EQ(loaded->orgs().size(), in_force.orgs().size());
  EXPECT_EQ(loaded->datasets().size(), in_force.datasets().size());
  EXPECT_EQ(loaded->licences().size(), in_force.licences().size());
  EXPECT_TRUE(files.count("pools.yaml"));
  EXPECT_TRUE(files.count("chips.yaml"));
}

}  // namespace
}  // namespace straits::api
