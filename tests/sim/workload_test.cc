// The native workload format (docs/scenarios.md): reading both formats,
// every kind of bad row with its exact FILE:LINE: message, and the round trip
// read(write(jobs)) == jobs, field by field.
#include "sim/workload.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "policy/temp_dir.h"
#include "sim/generator.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

const fs::path kData = fs::path(STRAITS_TEST_DATA_DIR) / "sim" / "workloads";
const Instant kOrigin = Instant::from_date(2026, 1, 1);

Instant at(const char* text) {
  return *parse_instant(text);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The diagnostics of a failed read, as printed, with the folder cut off.
std::vector<std::string> problems(const fs::path& file) {
  auto read = read_workload(file, kOrigin);
  if (read) {
    ADD_FAILURE() << file << " was read without errors";
    return {};
  }
  EXPECT_EQ(read.error().code(), ErrorCode::kInvalidArgument);
  std::vector<std::string> out;
  const std::string prefix = file.parent_path().string() + "/";
  for (const Diagnostic& d : read.error().diagnostics()) {
    std::string line = to_string(d);
    if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
    out.push_back(line);
  }
  return out;
}

// Every field, so that a field forgotten by the reader or writer shows.
void expect_same(const sched::Job& a, const sched::Job& b) {
  SCOPED_TRACE("job " + a.id.str());
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.org, b.org);
  EXPECT_EQ(a.team, b.team);
  EXPECT_EQ(a.gpus, b.gpus);
  EXPECT_EQ(a.eligible_chips, b.eligible_chips);
  EXPECT_EQ(a.work, b.work);  // exactly: doubles are written to read back the same
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.checkpoint_interval, b.checkpoint_interval);
  EXPECT_EQ(a.checkpoint_gb, b.checkpoint_gb);
  EXPECT_EQ(a.datasets, b.datasets);
  EXPECT_EQ(a.purpose, b.purpose);
  EXPECT_EQ(a.submit, b.submit);
  EXPECT_EQ(a.deadline, b.deadline);
  EXPECT_EQ(a.preferences.site_order, b.preferences.site_order);
  EXPECT_EQ(a.preferences.allow_sites, b.preferences.allow_sites);
  EXPECT_EQ(a.preferences.deny_sites, b.preferences.deny_sites);
  EXPECT_EQ(a.preferences.max_price_per_gpu_hour, b.preferences.max_price_per_gpu_hour);
}

void expect_same(const std::vector<sched::Job>& a, const std::vector<sched::Job>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) expect_same(a[i], b[i]);
}

TEST(WorkloadTest, ReadsJsonlWithDefaultsAndSortsBySubmitThenId) {
  auto jobs = read_workload(kData / "good.jsonl", kOrigin);
  ASSERT_TRUE(jobs) << jobs.error().to_string();
  ASSERT_EQ(jobs->size(), 3u);
  // train-a: 08:00+08:00 = 00:00Z = the origin; eval-c: origin + 1.5 s;
  // train-b: origin + 3600 s.
  const sched::Job& a = (*jobs)[0];
  EXPECT_EQ(a.id, JobId("train-a"));
  EXPECT_EQ(a.submit, kOrigin);
  EXPECT_EQ(a.team, "default");
  EXPECT_EQ(a.purpose, "training");
  EXPECT_EQ(a.checkpoint_interval, Duration::hours(2));
  EXPECT_EQ(a.priority, 0);
  EXPECT_TRUE(a.eligible_chips.empty());
  EXPECT_FALSE(a.deadline.has_value());
  EXPECT_FALSE(a.preferences.max_price_per_gpu_hour.has_value());

  const sched::Job& c = (*jobs)[1];
  EXPECT_EQ(c.id, JobId("eval-c"));
  EXPECT_EQ(c.submit, kOrigin + Duration::milliseconds(1500));
  EXPECT_EQ(c.checkpoint_interval, Duration());
  EXPECT_EQ(c.work, 0.1);

  const sched::Job& b = (*jobs)[2];
  EXPECT_EQ(b.id, JobId("train-b"));
  EXPECT_EQ(b.submit, kOrigin + Duration::hours(1));
  EXPECT_EQ(b.team, "pretrain");
  EXPECT_EQ(b.gpus, 64);
  EXPECT_EQ(b.eligible_chips, (std::vector<ChipId>{ChipId("h100-sxm"), ChipId("h200")}));
  EXPECT_EQ(b.work, 1234.5);
  EXPECT_EQ(b.model, "llama \"70b\", v2");
  EXPECT_EQ(b.priority, 5);
  EXPECT_EQ(b.checkpoint_interval, Duration::minutes(30));
  EXPECT_EQ(b.checkpoint_gb, 128.5);
  EXPECT_EQ(b.datasets, std::vector<DatasetId>{DatasetId("bellhollow-web-crawl-2025")});
  EXPECT_EQ(b.purpose, "fine-tuning");
  EXPECT_EQ(b.deadline, at("2026-01-10"));
  EXPECT_EQ(b.preferences.site_order,
            (std::vector<SiteId>{SiteId("jp-tokyo-1"), SiteId("sg-tuas-1")}));
  EXPECT_EQ(b.preferences.deny_sites, std::vector<SiteId>{SiteId("my-sedenak-1")});
  EXPECT_EQ(b.preferences.max_price_per_gpu_hour, *parse_money("4.25 USD"));
}

TEST(WorkloadTest, CsvWithQuotingReadsTheSameJobsAsJsonl) {
  auto jsonl = read_workload(kData / "good.jsonl", kOrigin);
  auto csv = read_workload(kData / "good.csv", kOrigin);
  ASSERT_TRUE(jsonl) << jsonl.error().to_string();
  ASSERT_TRUE(csv) << csv.error().to_string();
  expect_same(*jsonl, *csv);
}

TEST(WorkloadTest, CsvColumnsInAnyOrderWithCrlfAndOnlyRequiredOnes) {
  auto jobs = read_workload(kData / "minimal.csv", kOrigin);
  ASSERT_TRUE(jobs) << jobs.error().to_string();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[1].id, JobId("a-2"));
  EXPECT_EQ((*jobs)[1].gpus, 4);
  EXPECT_EQ((*jobs)[1].work, 2.5);
  EXPECT_EQ((*jobs)[1].submit, kOrigin + Duration::minutes(1));
  EXPECT_EQ((*jobs)[1].team, "default");
}

TEST(WorkloadTest, JsonlReportsEveryBadRowWithItsLine) {
  EXPECT_EQ(
      problems(kData / "bad.jsonl"),
      (std::vector<std::string>{
          "bad.jsonl:2: unknown field 'gpu' (did you mean 'gpus'?)",
          "bad.jsonl:2: missing required field 'gpus'",
          "bad.jsonl:3: 'gpus' must be an integer, got \"8\"",
          "bad.jsonl:4: 'gpus' must be an integer > 0, got 0",
          "bad.jsonl:5: 'checkpoint_interval': invalid duration '2x': unknown unit 'x' "
          "(expected e.g. PT2H30M, 90m, 2h, 7d)",
          "bad.jsonl:6: 'max_price': invalid amount '4 dollars': the currency must be three "
          "upper-case letters (expected e.g. \"3.93 USD\")",
          "bad.jsonl:7: duplicate job id 'ok-1' (first at line 1)",
          "bad.jsonl:8: 'submit': invalid date '2026-01-01T00:00:00': a time needs a zone: 'Z' "
          "or '+HH:MM' (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
          "bad.jsonl:9: 'work' must be > 0, got -2",
          "bad.jsonl:10: 'gpus' must be an integer, got 1.5",
          "bad.jsonl:11:22: invalid JSON: syntax error while parsing object - unexpected "
          "end of input; expected '}'",
          "bad.jsonl:12: expected a JSON object, one job per line",
          "bad.jsonl:13: 'chips' must be an array of strings, got \"h100-sxm\"",
          "bad.jsonl:14: missing required field 'id'",
          "bad.jsonl:14: 'team' must not be empty",
          "bad.jsonl:15: 'priority' must be an integer, got \"high\"",
          "bad.jsonl:15: 'deadline': invalid date 'soon': not a date (expected YYYY-MM-DD or "
          "YYYY-MM-DDTHH:MM:SSZ)",
      }));
}

TEST(WorkloadTest, CsvReportsEveryBadRowWithTheLineItStartsOn) {
  // Row g spans lines 10-11 (a quoted line break) and is good; row j's
  // unterminated quote swallows the rest of the file, so k is never read.
  EXPECT_EQ(problems(kData / "bad.csv"),
            (std::vector<std::string>{
                "bad.csv:3: 'gpus' must be an integer, got '8.5'",
                "bad.csv:4: 'gpus' must be an integer > 0, got 0",
                "bad.csv:5: 'checkpoint_interval': invalid duration '90x': unknown unit 'x' "
                "(expected e.g. PT2H30M, 90m, 2h, 7d)",
                "bad.csv:6: 'max_price': invalid amount '4.123456789 USD': more than six "
                "decimals (expected e.g. \"3.93 USD\")",
                "bad.csv:7: duplicate job id 'ok-1' (first at line 2)",
                "bad.csv:8: bad CSV quoting: a quote inside unquoted field 6 (quote the field "
                "and double it)",
                "bad.csv:9: bad CSV quoting: text after the closing quote of field 6",
                "bad.csv:12: expected 8 fields as in the header, got 4",
                "bad.csv:13: 'work' must be a number, got 'lots'",
                "bad.csv:14: bad CSV quoting: a quoted field is not closed",
            }));
}

TEST(WorkloadTest, CsvHeaderProblemsAreReportedAlone) {
  EXPECT_EQ(problems(kData / "bad-header.csv"),
            (std::vector<std::string>{
                "bad-header.csv:1: unknown column 'gpu' (did you mean 'gpus'?)",
                "bad-header.csv:1: duplicate column 'team'",
                "bad-header.csv:1: missing required column 'gpus'",
            }));
}

TEST(WorkloadTest, SummaryCountsTheProblems) {
  auto read = read_workload(kData / "bad-header.csv", kOrigin);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message(),
            "workload " + (kData / "bad-header.csv").string() + " has 3 errors");
}

TEST(WorkloadTest, FileProblemsAreErrorsNotExceptions) {
  TempDir dir("workload-io");
  auto missing = read_workload(dir.path() / "none.jsonl", kOrigin);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  auto wrong_kind = read_workload(dir.write("jobs.txt", ""), kOrigin);
  ASSERT_FALSE(wrong_kind);
  EXPECT_EQ(wrong_kind.error().code(), ErrorCode::kInvalidArgument);

  Status unwritable = write_workload(dir.path() / "no" / "such" / "dir" / "jobs.jsonl", {});
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error().code(), ErrorCode::kUnavailable);

  // An empty JSONL file is an empty workload; a CSV needs its header.
  auto empty = read_workload(dir.write("empty.jsonl", "\n\n"), kOrigin);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(read_workload(dir.write("empty.csv", ""), kOrigin));
}

// Jobs exercising every field, awkward values included.
std::vector<sched::Job> awkward_jobs() {
  sched::Job plain;
  plain.id = JobId("p-1");
  plain.org = OrgId("hanshan-sg");
  plain.team = "default";
  plain.gpus = 1;
  plain.work = 0.1 + 0.2;  // 0.30000000000000004: needs 17 digits
  plain.submit = kOrigin + Duration::microseconds(1);

  sched::Job full;
  full.id = JobId("f-1");
  full.org = OrgId("bellhollow");
  full.team = "a, \"quoted\" team";
  full.gpus = 1024;
  full.eligible_chips = {ChipId("h100-sxm"), ChipId("b200")};
  full.work = 1e-7;
  full.model = "model\nwith a line break";
  full.priority = -3;
  full.checkpoint_interval = Duration::seconds(5400) + Duration::microseconds(250);
  full.checkpoint_gb = 2.0 / 3.0;
  full.datasets = {DatasetId("tsukimi-ja-books")};
  full.purpose = "inference";
  full.submit = at("2026-03-01T12:34:56.789012Z");
  full.deadline = at("2026-04-01T00:00:00Z");
  full.preferences.site_order = {SiteId("jp-tokyo-1")};
  full.preferences.allow_sites = {SiteId("jp-tokyo-1"), SiteId("sg-tuas-1")};
  full.preferences.deny_sites = {SiteId("my-sedenak-1")};
  full.preferences.max_price_per_gpu_hour = *parse_money("0.000001 USD");

  sched::Job never = plain;
  never.id = JobId("p-2");
  never.checkpoint_interval = Duration();
  never.work = 123456789.123;
  return {plain, never, full};
}

class RoundTripTest : public testing::TestWithParam<std::string> {};

TEST_P(RoundTripTest, ReadOfWriteGivesTheSameJobsAndTheSameBytes) {
  TempDir dir("workload-round-trip");
  const fs::path file = dir.path() / ("jobs." + GetParam());
  std::vector<sched::Job> jobs = awkward_jobs();
  GeneratorOptions options;
  options.jobs = 300;
  options.seed = 7;
  options.chips = {ChipId("h100-sxm"), ChipId("h200")};
  options.datasets = {DatasetId("tsukimi-ja-books")};
  for (sched::Job& job : generate_workload(options)) jobs.push_back(std::move(job));
  std::sort(jobs.begin(), jobs.end(), [](const sched::Job& a, const sched::Job& b) {
    return std::tie(a.submit, a.id) < std::tie(b.submit, b.id);
  });

  ASSERT_TRUE(write_workload(file, jobs));
  auto read = read_workload(file, kOrigin);
  ASSERT_TRUE(read) << read.error().to_string();
  expect_same(jobs, *read);

  const std::string first = read_text(file);
  ASSERT_TRUE(write_workload(file, *read));
  EXPECT_EQ(read_text(file), first);
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTripTest, testing::Values("jsonl", "csv"));

TEST(WorkloadTest, JsonlLinesHaveFixedKeysAndOnlyNonDefaults) {
  TempDir dir("workload-jsonl");
  std::vector<sched::Job> jobs = awkward_jobs();
  ASSERT_TRUE(write_workload(dir.path() / "jobs.jsonl", {jobs[0], jobs[1]}));
  EXPECT_EQ(read_text(dir.path() / "jobs.jsonl"),
            "{\"id\":\"p-1\",\"submit\":\"2026-01-01T00:00:00.000001Z\",\"org\":\"hanshan-sg\","
            "\"gpus\":1,\"work\":0.30000000000000004}\n"
            "{\"id\":\"p-2\",\"submit\":\"2026-01-01T00:00:00.000001Z\",\"org\":\"hanshan-sg\","
            "\"gpus\":1,\"work\":123456789.123,\"checkpoint_interval\":\"0s\"}\n");
}

TEST(WorkloadTest, CsvHasTheFullHeaderAndQuotesWhatNeedsIt) {
  TempDir dir("workload-csv");
  std::vector<sched::Job> jobs = awkward_jobs();
  ASSERT_TRUE(write_workload(dir.path() / "jobs.csv", {jobs[2]}));
  EXPECT_EQ(read_text(dir.path() / "jobs.csv"),
            "id,submit,org,team,gpus,chips,work,model,priority,checkpoint_interval,"
            "checkpoint_gb,datasets,purpose,deadline,site_order,allow_sites,deny_sites,"
            "max_price\n"
            "f-1,2026-03-01T12:34:56.789012Z,bellhollow,\"a, \"\"quoted\"\" team\",1024,"
            "h100-sxm;b200,1e-07,\"model\nwith a line break\",-3,1h30m0.00025s,"
            "0.6666666666666666,tsukimi-ja-books,inference,2026-04-01T00:00:00Z,jp-tokyo-1,"
            "jp-tokyo-1;sg-tuas-1,my-sedenak-1,0.000001 USD\n");
}

TEST(WorkloadTest, CsvRefusesListItemsItCannotRepresent) {
  TempDir dir("workload-csv-list");
  sched::Job job = awkward_jobs()[0];
  job.eligible_chips = {ChipId("a;b")};
  Status written = write_workload(dir.path() / "jobs.csv", {job});
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message(), "job 'p-1': 'chips' item 'a;b' cannot be written to CSV");
  // JSONL holds it.
  EXPECT_TRUE(write_workload(dir.path() / "jobs.jsonl", {job}));
}

}  // namespace
}  // namespace straits::sim
