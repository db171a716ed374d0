// The synthetic workload: deterministic for a seed (a golden file pins the
// exact output, so a platform or library that draws differently shows), and
// statistically what it claims, with bounds computed here beside each check.
#include "sim/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "policy/temp_dir.h"
#include "sim/workload.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The workload as JSONL text: equal text means equal jobs, field by field
// (the round trip is proven in workload_test).
std::string as_text(const std::vector<sched::Job>& jobs) {
  TempDir dir("generator");
  fs::path file = dir.path() / "jobs.jsonl";
  EXPECT_TRUE(write_workload(file, jobs));
  return read_text(file);
}

GeneratorOptions tenants(std::size_t jobs, std::uint64_t seed) {
  GeneratorOptions o;
  o.jobs = jobs;
  o.seed = seed;
  o.orgs = {{OrgId("hanshan-sg"), 3}, {OrgId("bellhollow"), 1}};
  o.chips = {ChipId("h100-sxm"), ChipId("h200"), ChipId("b200")};
  o.datasets = {DatasetId("tsukimi-ja-books"), DatasetId("halcyon-sg-public-corpus")};
  return o;
}

TEST(GeneratorTest, SameSeedSameJobsOtherSeedOtherJobs) {
  const std::string a = as_text(generate_workload(tenants(500, 42)));
  EXPECT_EQ(a, as_text(generate_workload(tenants(500, 42))));
  EXPECT_NE(a, as_text(generate_workload(tenants(500, 43))));
}

// Pins the exact output for one seed: the PRNG, the distributions and their
// own log/exp must give these bytes on every machine. Regenerate with
// STRAITS_UPDATE_GOLDEN=1 only for an intended change, and say so.
TEST(GeneratorTest, MatchesTheGoldenWorkloadForSeed42) {
  const fs::path golden = fs::path(STRAITS_TEST_DATA_DIR) / "sim" / "generated-seed42.jsonl";
  const std::string got = as_text(generate_workload(tenants(25, 42)));
  if (std::getenv("STRAITS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::binary) << got;
    GTEST_SKIP() << "wrote " << golden;
  }
  EXPECT_EQ(got, read_text(golden));
}

TEST(GeneratorTest, AnOptionLeavesTheOtherAspectsAlone) {
  // Each aspect draws from its own stream: without chips and datasets the
  // arrivals, tenants, sizes and work stay the same.
  GeneratorOptions bare = tenants(200, 5);
  bare.chips.clear();
  bare.datasets.clear();
  auto with = generate_workload(tenants(200, 5));
  auto without = generate_workload(bare);
  ASSERT_EQ(with.size(), without.size());
  for (std::size_t i = 0; i < with.size(); ++i) {
    EXPECT_EQ(with[i].submit, without[i].submit);
    EXPECT_EQ(with[i].org, without[i].org);
    EXPECT_EQ(with[i].gpus, without[i].gpus);
    EXPECT_EQ(with[i].work, without[i].work);
    EXPECT_TRUE(without[i].eligible_chips.empty());
    EXPECT_TRUE(without[i].datasets.empty());
  }
}

TEST(GeneratorTest, JobsFollowTheDocumentedShape) {
  GeneratorOptions o = tenants(2000, 9);
  o.max_gpus = 300;  // not a power of two: sizes stop at 256
  o.teams_per_org = 3;
  auto jobs = generate_workload(o);
  ASSERT_EQ(jobs.size(), 2000u);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const sched::Job& j = jobs[i];
    ids.insert(j.id.str());
    EXPECT_EQ(j.id.str().size(), std::string("job-000001").size());
    if (i > 0) {
      EXPECT_LE(jobs[i - 1].submit, j.submit);
    }
    EXPECT_GE(j.submit, o.start);
    EXPECT_TRUE(j.gpus >= 1 && j.gpus <= 256 && (j.gpus & (j.gpus - 1)) == 0) << j.gpus;
    const double hours = j.work / j.gpus;
    EXPECT_GE(hours, 1.0 / 60 - 1e-12);
    EXPECT_LE(hours, 720 + 1e-9);
    EXPECT_EQ(j.checkpoint_interval, j.gpus >= 8 ? Duration::hours(2) : Duration());
    EXPECT_EQ(j.checkpoint_gb, 2.0 * j.gpus);
    EXPECT_TRUE(j.team == "team-1" || j.team == "team-2" || j.team == "team-3") << j.team;
    EXPECT_FALSE(j.eligible_chips.empty());
    for (const ChipId& chip : j.eligible_chips) {
      EXPECT_NE(std::find(o.chips.begin(), o.chips.end(), chip), o.chips.end());
    }
    EXPECT_LE(j.datasets.size(), 1u);
  }
  EXPECT_EQ(ids.size(), jobs.size());
  EXPECT_EQ(jobs.front().id.str().substr(0, 4), "job-");
}

TEST(GeneratorTest, DefaultsGiveOneTenantAnyChipAndSixDigitIds) {
  GeneratorOptions defaults;
  defaults.jobs = 1;
  auto one = generate_workload(defaults);
  EXPECT_EQ(one[0].id, JobId("job-000001"));
  EXPECT_EQ(one[0].org, OrgId("org-1"));         // no orgs given: one tenant
  EXPECT_EQ(one[0].team.substr(0, 5), "team-");  // one of the 4 default teams
  EXPECT_TRUE(one[0].eligible_chips.empty());
}

// Statistics over 20,000 jobs. Bounds are several standard errors wide, so a
// correct generator passes for any seed, and a wrong parameter does not.
class GeneratorStatsTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    options_ = new GeneratorOptions(tenants(20'000, 2026));
    options_->max_gpus = 256;
    options_->median_hours = 2.0;
    options_->load = 0.7;
    options_->fleet_gpus = 4096;
    jobs_ = new std::vector<sched::Job>(generate_workload(*options_));
  }
  static void TearDownTestSuite() {
    delete jobs_;
    delete options_;
  }
  static double share(const std::function<bool(const sched::Job&)>& pred) {
    return static_cast<double>(std::count_if(jobs_->begin(), jobs_->end(), pred)) /
           static_cast<double>(jobs_->size());
  }
  static GeneratorOptions* options_;
  static std::vector<sched::Job>* jobs_;
};
GeneratorOptions* GeneratorStatsTest::options_ = nullptr;
std::vector<sched::Job>* GeneratorStatsTest::jobs_ = nullptr;

TEST_F(GeneratorStatsTest, MedianDurationIsTheOption) {
  std::vector<double> hours;
  for (const auto& j : *jobs_) hours.push_back(j.work / j.gpus);
  std::nth_element(hours.begin(), hours.begin() + hours.size() / 2, hours.end());
  const double median = hours[hours.size() / 2];
  // Standard error of the log of a sample median: 1.2533 sigma / sqrt(n) =
  // 1.2533 x 1.5 / 141 = 0.013; +-10% is more than 7 of them.
  EXPECT_NEAR(median, 2.0, 0.2);
}

TEST_F(GeneratorStatsTest, SizesFallByTwoToTheMinusPointSixPerDoubling) {
  // P(2^k) = 2^(-0.6 k) / sum_{i=0..8} 2^(-0.6 i); the sum is
  // (1 - 2^-5.4) / (1 - 2^-0.6) = 2.8694, so P(1) = 0.3485 and P(2) = 0.2300.
  double total = 0;
  for (int k = 0; k <= 8; ++k) total += std::pow(2.0, -0.6 * k);
  const double p1 = 1 / total, p2 = std::pow(2.0, -0.6) / total;
  // Binomial standard error sqrt(p (1 - p) / n) <= 0.0034: +-0.02 is 6 of them.
  EXPECT_NEAR(share([](const auto& j) { return j.gpus == 1; }), p1, 0.02);
  EXPECT_NEAR(share([](const auto& j) { return j.gpus == 2; }), p2, 0.02);
  EXPECT_NEAR(share([](const auto& j) { return j.gpus == 256; }), std::pow(2.0, -4.8) / total,
              0.01);
}

TEST_F(GeneratorStatsTest, TenantsChipsAndDatasetsAsWeighted) {
  // Weights 3:1 -> 0.75; each of 3 chips is in with 1/2 (an empty draw, 1/8,
  // becomes one chip) -> E[chips] = 3 x 0.5 + 1/8 = 1.625; datasets 0.2.
  EXPECT_NEAR(share([](const auto& j) { return j.org == OrgId("hanshan-sg"); }), 0.75, 0.02);
  double chips = 0;
  for (const auto& j : *jobs_) chips += static_cast<double>(j.eligible_chips.size());
  EXPECT_NEAR(chips / static_cast<double>(jobs_->size()), 1.625, 0.03);
  EXPECT_NEAR(share([](const auto& j) { return !j.datasets.empty(); }), 0.2, 0.02);
}

TEST_F(GeneratorStatsTest, OfferedLoadIsTheTarget) {
  // Offered load = GPU-hours of work submitted per hour / fleet GPUs.
  double work = 0;
  for (const auto& j : *jobs_) work += j.work;
  const double hours = (jobs_->back().submit - options_->start).to_hours();
  const double load = work / hours / options_->fleet_gpus;
  // Per job, gpus x hours has mean E[gpus] E[hours] = 12.1 x 2 e^1.125 =
  // 12.1 x 6.16 = 74.8 GPU-hours and standard deviation sqrt(E[gpus^2]
  // E[hours^2] - 74.8^2) = sqrt(1320 x 4 e^4.5 - 74.8^2) = 685, so the sum of
  // 20,000 has a relative error of 685 / 74.8 / 141 = 6.5%: 15% is more than
  // two of them (the arrival count adds 0.7%).
  EXPECT_NEAR(load, 0.7, 0.7 * 0.15);
}

}  // namespace
}  // namespace straits::sim
