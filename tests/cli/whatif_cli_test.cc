// `straits sim compare` and `straits sim sweep` as a user runs them: tables on
// stdout, --json, quiet stderr when it is not a terminal, --vary errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/shell.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class WhatIfCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("straits-whatif-cli-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "base.yaml")
        << "name: base\nstart: 2026-01-01\nhorizon: 10d\nseed: 7\nleases:\n"
           "  - {id: l1, org: hanshan-sg, pool: sg-tuas-1-h100, gpus: 256, start: 2026-01-01, "
           "end: 2026-03-01}\n"
           "workload:\n"
           "  synthetic: {jobs: 120, load: 0.8, fleet_gpus: 64, max_gpus: 32, median_hours: 2,\n"
           "              orgs: {hanshan-sg: 1}, chips: [h100-sxm, h800]}\n";
    std::ofstream(dir_ / "whatif.yaml")
        << "extends: base.yaml\nname: closed\nrules: [default, scenarios/close-remote-access]\n"
           "params: {close_from: 2026-01-02}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome straits(const std::string& args) const {
    const fs::path err_file = dir_ / "stderr";
    auto result = straits::testing::run_command(std::string(STRAITS_BINARY) + " " + args + " 2>" +
                                                err_file.string());
    return {result.exit_code, result.out, read_file(err_file)};
  }

  fs::path dir_;
};

TEST_F(WhatIfCliTest, CompareTablesOrJson) {
  const std::string scenarios =
      (dir_ / "base.yaml").string() + " " + (dir_ / "whatif.yaml").string();
  Outcome table = straits("sim compare " + scenarios + " --out " + (dir_ / "a").string());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.err, "");  // not a terminal: no progress
  EXPECT_NE(table.out.find("What-if closed against baseline base: 120 jobs, seed 7"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("Mean JCT (h)"), std::string::npos);
  EXPECT_NE(table.out.find("Jobs that could no longer run anywhere in the what-if: "),
            std::string::npos);
  EXPECT_NE(table.out.find("hanshan-sg/team-1"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "a" / "compare.html"));

  Outcome json = straits("sim compare " + scenarios + " --json --out " + (dir_ / "b").string());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out, read_file(dir_ / "b" / "compare.json"));
  EXPECT_EQ(json.out, read_file(dir_ / "a" / "compare.json"));  // the same bytes again
  EXPECT_EQ(json.out.front(), '{');

  Outcome quiet = straits("sim compare " + scenarios + " --quiet --out " + (dir_ / "c").string());
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.out, "");
}

TEST_F(WhatIfCliTest, SweepTableAndErrors) {
  const std::string scenario = (dir_ / "whatif.yaml").string();
  Outcome run = straits("sim sweep " + scenario +
                        " --vary rules.close-remote-access.from=2026-01-01..2026-01-03/daily "
                        "--jobs 2 --out " +
                        (dir_ / "s").string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_NE(run.out.find("Sweep of close_from (rules.close-remote-access.from) over scenario "
                         "closed: 3 runs"),
            std::string::npos)
      << run.out;
  for (const char* value : {"\n2026-01-01 ", "\n2026-01-02 ", "\n2026-01-03 "}) {
    EXPECT_NE(run.out.find(value), std::string::npos) << value;
  }
  const std::string csv = read_file(dir_ / "s" / "sweep.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);  // the header and one row per value

  Outcome bad =
      straits("sim sweep " + scenario + " --vary rules.close-remote-access.frm=2026-01-01");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("straits: --vary: no param 'frm' in pack close-remote-access (did you "
                         "mean 'from'?)"),
            std::string::npos)
      << bad.err;
  EXPECT_EQ(
      straits("sim sweep " + scenario + " --vary params.close_from=2026-01-01 --jobs 0").exit_code,
      2);
}

}  // namespace
