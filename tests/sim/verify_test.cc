// The invariant checker on hand-written output folders: tests/data/sim/runs/
// valid/ is a small correct run over the shipped catalog and rules; each
// folder under broken/ replaces one or two of its files to break exactly one
// invariant, and holds expected.txt, the exact violations (regenerate with
// STRAITS_UPDATE_GOLDEN=1 and review the diff).
//
// valid/ in numbers: lease l1 gives hanshan-sg 32 GPUs of sg-tuas-1-h100
// (64 nodes x 8). Its use there is 8 (00-01h), 8 + 16 = 24 (01-02h),
// 16 + 4 + 4 = 24 (02-03h), then 8 from 20h to 04h the next day. Node 0 passes
// from job-1 to job-2 at 01h (an end and a start at the same instant); node
// 1 holds job-3 and job-4, 4 + 4 = 8 GPUs, from 02h. bellhollow's job-6
// crosses from lease l2 to l3 at 2026-01-03. hanshan owns cn-ulanqab-1-h800
// and needs no lease for job-5, nor does its subsidiary hanshan-sg for
// job-9 there. job-7 never runs.
#include "sim/verify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "policy/temp_dir.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

const fs::path kRuns = fs::path(STRAITS_TEST_DATA_DIR) / "sim" / "runs";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// valid/ with the case's files laid over it, and run.json pointing at this
// source tree's catalog and rules.
void lay_out(const TempDir& dir, const std::string& broken_case) {
  std::vector<fs::path> sources = {kRuns / "valid"};
  if (!broken_case.empty()) sources.push_back(kRuns / "broken" / broken_case);
  for (const fs::path& source : sources) {
    for (const auto& entry : fs::directory_iterator(source)) {
      if (entry.path().filename() == "expected.txt") continue;
      fs::copy_file(entry.path(), dir.path() / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
  std::string run = read_text(dir.path() / "run.json");
  const std::string placeholder = "@STRAITS_SOURCE_DIR@";
  for (std::size_t at; (at = run.find(placeholder)) != std::string::npos;) {
    run.replace(at, placeholder.size(), STRAITS_SOURCE_DIR);
  }
  dir.write("run.json", run);
}

std::string lines(const VerifyReport& report) {
  std::string out;
  for (const Violation& v : report.violations) {
    out += v.check + " " + v.where + ": " + v.message + "\n";
  }
  return out;
}

TEST(VerifyTest, TheValidRunPasses) {
  TempDir dir("verify-valid");
  lay_out(dir, "");
  auto report = verify_run(dir.path());
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_TRUE(report->ok()) << lines(*report);
  EXPECT_EQ(report->intervals, 9u);
  EXPECT_EQ(report->jobs, 9u);
}

struct BrokenCase {
  const char* name;
  const char* check;  // the one check that must catch it
  const char* where;  // where its first violation is
};

void PrintTo(const BrokenCase& c, std::ostream* out) {
  *out << c.name;
}

class BrokenRunTest : public testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenRunTest, CaughtByTheRightCheckAtTheRightLine) {
  const BrokenCase& c = GetParam();
  TempDir dir(std::string("verify-") + c.name);
  lay_out(dir, c.name);
  auto report = verify_run(dir.path());
  ASSERT_TRUE(report) << report.error().to_string();
  ASSERT_FALSE(report->ok()) << c.name << " passed";
  for (const Violation& v : report->violations) EXPECT_EQ(v.check, c.check) << lines(*report);
  EXPECT_EQ(report->violations.front().where, c.where) << lines(*report);

  const fs::path expected = kRuns / "broken" / c.name / "expected.txt";
  if (std::getenv("STRAITS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected, std::ios::binary) << lines(*report);
    GTEST_SKIP() << "wrote " << expected;
  }
  EXPECT_EQ(lines(*report), read_text(expected));
}

const BrokenCase kBrokenCases[] = {
    // job-3 on node 0 at 02h, where job-2 still holds 8 of 8: 12 > 8.
    BrokenCase{"over-capacity", "capacity", "intervals.csv:6"},
    // sg-tuas-1-h100 has nodes 0..63.
    BrokenCase{"node-out-of-range", "capacity", "intervals.csv:8"},
    // job-2 is a gang of 16 spread as 8 + 4 = 12.
    BrokenCase{"split-gang", "gang", "intervals.csv:5"},
    // l3 starts at 02h on 2026-01-03; job-6 runs from 20h the day before
    // to 04h: 00-02h is covered by no lease.
    BrokenCase{"outside-lease", "lease", "intervals.csv:9"},
    // l1 shrunk to 16 GPUs: at 01h hanshan-sg holds 8 + 16 = 24.
    BrokenCase{"over-lease", "lease", "intervals.csv:4"},
    // Remote access closed from 2026-01-02 for China-parented orgs:
    // job-8 (2026-01-01T20h to 01-02T04h) is allowed at its start, denied
    // from midnight inside it; found through next_change_after.
    BrokenCase{"policy-denied", "policy", "intervals.csv:8"},
    // job-8 uses CN personal data abroad: licence required throughout.
    BrokenCase{"dataset-licence", "policy", "intervals.csv:8"},
    // job-3: 4 GPUs x 3 h = 12 GPU-hours, jobs.csv says 13.
    BrokenCase{"gpu-hours-mismatch", "consistency", "jobs.csv:6"},
    // job-1 on node 1 from 00:30 while still on node 0 until 01h; the
    // GPU-hours (8 + 4 + 4 = 16), first start and end still agree.
    BrokenCase{"two-places", "gang", "intervals.csv:4"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BrokenRunTest, testing::ValuesIn(kBrokenCases),
                         [](const testing::TestParamInfo<BrokenCase>& param) {
                           std::string name = param.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(VerifyTest, MalformedRowsAreAnErrorListingEachOne) {
  TempDir dir("verify-malformed");
  lay_out(dir, "");
  dir.write("intervals.csv",
            "job,org,pool,gpus,start,end,nodes,end_reason\n"
            "job-1,hanshan-sg,sg-tuas-1-h100,eight,2026-01-01T00:00:00Z,"
            "2026-01-01T01:00:00Z,0:8,completed\n"
            "job-1,hanshan-sg,sg-tuas-1-h100,8,2026-01-01T01:00:00Z,2026-01-01T02:00:00Z,1-8,"
            "completed\n"
            "job-2,hanshan-sg\n");
  auto report = verify_run(dir.path());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), ErrorCode::kInvalidArgument);
  std::vector<std::string> got;
  const std::string prefix = dir.path().string() + "/";
  for (const Diagnostic& d : report.error().diagnostics()) {
    got.push_back(to_string(d).substr(prefix.size()));
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "intervals.csv:2: 'gpus' must be an integer, got 'eight'",
                     "intervals.csv:3: 'nodes' must be node:gpus pairs joined by ';', got '1-8'",
                     "intervals.csv:4: expected 8 fields as in the header, got 2",
                 }));
}

TEST(VerifyTest, AMissingFileIsNotFound) {
  TempDir dir("verify-missing");
  lay_out(dir, "");
  fs::remove(dir.path() / "jobs.csv");
  auto report = verify_run(dir.path());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(report.error().message(), dir.path().string() + ": missing jobs.csv");
}

TEST(VerifyTest, JobsCsvMustListEveryJobOnce) {
  TempDir dir("verify-rows");
  lay_out(dir, "");
  std::string jobs = read_text(dir.path() / "jobs.csv");
  // Drop job-7's row (line 4) and repeat job-1's (line 2) at the end.
  std::vector<std::string> rows;
  std::istringstream in(jobs);
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  rows.push_back(rows[1]);
  rows.erase(rows.begin() + 3);
  std::string text;
  for (const auto& row : rows) text += row + "\n";
  dir.write("jobs.csv", text);
  auto report = verify_run(dir.path());
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(lines(*report),
            "consistency jobs.csv: job 'job-7' has no row\n"
            "consistency jobs.csv:10: job 'job-1': listed twice (first at line 2)\n");
}

}  // namespace
}  // namespace straits::sim
