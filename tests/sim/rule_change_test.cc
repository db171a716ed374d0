// A rule change replayed over a small real workload: the shipped catalog,
// the default pack in force, and as the proposal the default pack with the
// close-remote-access scenario from two days into the replay. hanshan-sg
// (China-parented) and bellhollow (US) train on their leases of Singapore
// H100s: under the proposal hanshan-sg's jobs there stop or never start,
// bellhollow's run as before.
#include "sim/rule_change.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>

#include "policy/temp_dir.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource(STRAITS_SOURCE_DIR);
const Instant kStart = Instant::from_date(2026, 3, 1);

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::map<std::string, std::string> folder_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().filename().string()] = read_text(e.path());
  }
  return files;
}

// 8-GPU jobs of two days on H100, checkpointing every 2 hours, one of each
// org every 4 hours over the first day.
std::string workload() {
  std::string out;
  for (int i = 0; i < 12; ++i) {
    const char* org = i % 2 == 0 ? "hanshan-sg" : "bellhollow";
    json row = {{"id", "j-" + std::to_string(100 + i)},
                {"submit", to_iso8601(kStart + Duration::hours(2 * i))},
                {"org", org},
                {"gpus", 8},
                {"work", 8 * 48},
                {"chips", {"h100-sxm"}},
                {"checkpoint_interval", "2h"},
                {"checkpoint_gb", 16}};
    out += row.dump() + "\n";
  }
  return out;
}

SimulationInputs inputs() {
  SimulationInputs in;
  in.catalog_files = folder_files(kSource / "catalog");
  in.workload_jsonl = workload();
  const Instant lease_end = Instant::from_date(2026, 6, 1);
  in.leases = {{LeaseId("l-1"), OrgId("hanshan-sg"), PoolId("sg-tuas-1-h100"), 64,
                Instant::from_date(2026, 2, 1), lease_end, *parse_money("3.50 USD")},
               {LeaseId("l-2"), OrgId("bellhollow"), PoolId("sg-tuas-1-h100"), 64,
                Instant::from_date(2026, 2, 1), lease_end, *parse_money("3.50 USD")}};
  const PackFiles base{"default", folder_files(kSource / "rules" / "default")};
  in.in_force.packs = {base};
  in.proposed.packs = {base,
                       {"close-remote-access",
                        folder_files(kSource / "rules" / "scenarios" / "close-remote-access")}};
  in.proposed.params = {{"close_from", "2026-03-03"}};
  in.start = kStart;
  in.horizon = Duration::days(10);
  return in;
}

TEST(SimulateRuleChange, TheProposalStopsTheChinaParentedOrgsJobs) {
  testing_util::TempDir dir("rules-simulate");
  const fs::path out = dir.path() / "simulate";
  auto done = simulate_rule_change(inputs(), out);
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_TRUE(fs::exists(out / "compare.html"));
  EXPECT_TRUE(fs::exists(out / "inputs" / "proposed" / "close-remote-access" /
                         "close-remote-access.rules"));
  const json c = json::parse(read_text(out / "compare.json"));
  EXPECT_EQ(c["jobs"], 12);
  EXPECT_EQ(c["start"], "2026-03-01T00:00:00Z");
  const json& lost = c["no_longer_run"]["jobs"];
  ASSERT_FALSE(lost.empty()) << c.dump(2);
  for (const json& j : lost) EXPECT_EQ(j["org"], "hanshan-sg") << j.dump();
  // In force, every job completes.
  EXPECT_EQ(c["states"]["completed"]["baseline"], 12) << c["states"].dump();
  EXPECT_LT(c["states"]["completed"]["whatif"].get<double>(), 12);
}

TEST(SimulateRuleChange, RefusesANameThatLeavesItsFolder) {
  testing_util::TempDir dir("rules-simulate");
  SimulationInputs in = inputs();
  in.proposed.packs[1].name = "../elsewhere";
  auto refused = simulate_rule_change(in, dir.path() / "simulate");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("../elsewhere"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path() / "simulate"));
}

}  // namespace
}  // namespace straits::sim
