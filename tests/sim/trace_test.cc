// Trace importers (docs/traces.md) on real rows: the shipped Alibaba openb pod
// lists and Gavel traces (data/), and the real example rows of the Helios,
// Acme and PAI traces (tests/data/traces/, origin in its README); rows broken
// on purpose; the mapping onto a catalog; scenarios that extend others.
#include "sim/trace.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "policy/temp_dir.h"
#include "sim/engine.h"
#include "sim/fidelity.h"
#include "sim/scenario.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

const fs::path kRoot = STRAITS_SOURCE_DIR;
const fs::path kData = kRoot / "data";
const fs::path kRows = fs::path(STRAITS_TEST_DATA_DIR) / "traces";
const fs::path kOpenb = kData / "alibaba-clusterdata" / "openb_pod_list_gpuspec33.csv";
const fs::path kGavelTable = kData / "gavel" / "gavel_isolated_throughputs.csv";

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == separator) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<TraceJob> read_all(const fs::path& path, TraceFormat format,
                               const TraceReadOptions& options = {}) {
  auto reader = TraceReader::open(path, format, options);
  EXPECT_TRUE(reader) << reader.error().to_string();
  std::vector<TraceJob> jobs;
  if (!reader) return jobs;
  TraceJob job;
  while (reader->next(job)) jobs.push_back(job);
  EXPECT_FALSE(reader->error()) << reader->error()->to_string();
  return jobs;
}

TEST(TraceFormatTest, NamesRoundTripAndUnknownNamesAreRefusedWithAHint) {
  for (auto f : {TraceFormat::kAlibabaOpenb, TraceFormat::kAlibabaPai, TraceFormat::kGavel,
                 TraceFormat::kHelios, TraceFormat::kAcme, TraceFormat::kNative}) {
    EXPECT_EQ(*parse_trace_format(trace_format_name(f)), f);
  }
  auto bad = parse_trace_format("alibaba-opnb");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("did you mean 'alibaba-openb'"), std::string::npos)
      << bad.error().message();
}

// Every openb row, read by a naive split here (the file has no quoting), against the reader.
TEST(AlibabaOpenbTest, ReadsEveryRowOfTheShippedPodList) {
  const auto lines = lines_of(kOpenb);
  ASSERT_GT(lines.size(), 8000u);
  std::map<std::string, std::vector<std::string>> expected;  // name -> fields
  std::size_t cpu_only = 0, never_scheduled = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto f = split(lines[i], ',');
    ASSERT_EQ(f.size(), 11u) << lines[i];
    if (f[3] == "0") {
      ++cpu_only;
    } else if (f[10].empty()) {
      ++never_scheduled;
    } else if (std::stod(f[9]) > std::stod(f[10])) {
      expected[f[0]] = f;
    }
  }
  auto reader = TraceReader::open(kOpenb, TraceFormat::kAlibabaOpenb);
  ASSERT_TRUE(reader);
  TraceJob job;
  std::size_t jobs = 0;
  while (reader->next(job)) {
    ++jobs;
    auto it = expected.find(job.id);
    ASSERT_NE(it, expected.end()) << job.id;
    const auto& f = it->second;
    EXPECT_EQ(job.submit_s, std::stod(f[8])) << job.id;
    EXPECT_EQ(*job.start_s, std::stod(f[10])) << job.id;
    EXPECT_EQ(job.duration_s, std::stod(f[9]) - std::stod(f[10])) << job.id;
    const double gpus = f[3] == "1" ? std::stod(f[4]) / 1000 : std::stod(f[3]);
    EXPECT_DOUBLE_EQ(job.gpus, gpus) << job.id;
    EXPECT_EQ(job.gpu_models, f[5].empty() ? std::vector<std::string>{} : split(f[5], '|'));
    EXPECT_EQ(job.group, f[6]);
    ASSERT_GE(job.line, 2);
    EXPECT_TRUE(lines[static_cast<std::size_t>(job.line - 1)].starts_with(job.id + ","));
  }
  const TraceStats& s = reader->stats();
  EXPECT_EQ(jobs, expected.size());
  EXPECT_EQ(s.rows, lines.size() - 1);
  EXPECT_EQ(s.skip_reasons.at("no GPU (a CPU-only pod)"), cpu_only);
  EXPECT_EQ(s.skip_reasons.at("never scheduled in the trace"), never_scheduled);
  EXPECT_EQ(s.bad_rows, 0u);
  EXPECT_GT(cpu_only, 1000u);
}

// Real rows with mistakes put in on purpose, each reported with its line.
TEST(AlibabaOpenbTest, SkipsAndCountsBrokenRowsOrStopsAtTheFirstWhenStrict) {
  auto lines = lines_of(kOpenb);
  TempDir dir("trace");
  std::string text = lines[0] + "\n";
  for (int i = 1; i <= 5; ++i) text += lines[static_cast<std::size_t>(i)] + "\n";
  text += "openb-pod-x1,12000,16384,two,1000,,LS,Running,0,100,0\n";         // line 7
  text += "openb-pod-x2,12000,16384,1,1000,,LS,Running,500,900,400\n";       // line 8
  text += "openb-pod-x3,12000,16384,1,1000,,LS,Running,500,,600\n";          // line 9
  text += "openb-pod-x4,12000,16384,1,1500,,LS,Running,500,900,600\n";       // line 10
  text += "openb-pod-x5,12000,16384,1,1000,V100M16||T4,LS,Running,5,9,6\n";  // line 11
  text += lines[7] + "\n";                                                   // line 12
  fs::path file = dir.write("broken.csv", text);

  auto reader = TraceReader::open(file, TraceFormat::kAlibabaOpenb);
  ASSERT_TRUE(reader);
  TraceJob job;
  std::vector<std::string> ids;
  while (reader->next(job)) ids.push_back(job.id);
  EXPECT_FALSE(reader->error());
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids.back(), split(lines[7], ',')[0]);
  const TraceStats& s = reader->stats();
  ASSERT_EQ(s.bad_rows, 5u);
  std::vector<int> bad_lines;
  for (const auto& d : s.first_bad_rows) {
    bad_lines.push_back(d.where.line);
    EXPECT_EQ(d.where.file, file.string());
  }
  EXPECT_EQ(bad_lines, (std::vector<int>{7, 8, 9, 10, 11}));
  EXPECT_NE(s.first_bad_rows[0].message.find("'num_gpu'"), std::string::npos);
  EXPECT_NE(s.first_bad_rows[1].message.find("'scheduled_time'"), std::string::npos);
  EXPECT_NE(s.first_bad_rows[2].message.find("'deletion_time'"), std::string::npos);
  EXPECT_NE(s.first_bad_rows[3].message.find("'gpu_milli'"), std::string::npos);
  EXPECT_NE(s.first_bad_rows[4].message.find("empty model"), std::string::npos);

  TraceReadOptions strict;
  strict.strict = true;
  auto summary = inspect_trace(file, TraceFormat::kAlibabaOpenb, strict);
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().message().find(file.string() + ":7:"), std::string::npos)
      << summary.error().message();
}

TEST(AlibabaOpenbTest, AMissingTimeColumnIsRefusedAndAMissingStartColumnIsAssumed) {
  TempDir dir("trace");
  fs::path no_creation = dir.write(
      "a.csv", "name,num_gpu,deletion_time,scheduled_time\nopenb-pod-0000,1,12537496,0\n");
  auto refused = inspect_trace(no_creation, TraceFormat::kAlibabaOpenb);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("missing column 'creation_time' (the arrival time)"),
            std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find(no_creation.string() + ":1:"), std::string::npos);

  fs::path no_start =
      dir.write("b.csv", "name,num_gpu,creation_time,deletion_time\nopenb-pod-0000,1,0,12537496\n");
  auto summary = inspect_trace(no_start, TraceFormat::kAlibabaOpenb);
  ASSERT_TRUE(summary) << summary.error().to_string();
  EXPECT_EQ(summary->stats.jobs, 1u);
  EXPECT_EQ(summary->with_start_times, 0u);
  bool stated = false;
  for (const auto& a : summary->stats.assumptions) {
    stated |= a.find("no 'scheduled_time' column") != std::string::npos;
  }
  EXPECT_TRUE(stated);
}

TEST(AlibabaOpenbTest, InspectSummarisesSizesSpanAndGpuHours) {
  auto s = inspect_trace(kOpenb, TraceFormat::kAlibabaOpenb);
  ASSERT_TRUE(s);
  std::size_t sum = 0;
  for (const auto& [size, n] : s->gpu_histogram) sum += n;
  EXPECT_EQ(sum, s->stats.jobs);
  double gpu_hours = 0, last = 0;
  for (const auto& j : read_all(kOpenb, TraceFormat::kAlibabaOpenb)) {
    gpu_hours += j.gpus * j.duration_s / 3600;
    last = std::max(last, j.submit_s);
  }
  EXPECT_NEAR(s->gpu_hours, gpu_hours, 1e-6 * gpu_hours);
  EXPECT_EQ(s->last_submit_s, last);
  EXPECT_GT(s->gpu_histogram.at("<1"), 0u);  // shared GPUs are kept as shares
  EXPECT_GT(s->gpu_models.at("V100M32"), 0u);
}

TEST(GavelTest, DurationsAreStepsOverTheThroughputOfTheJobTypeAndScale) {
  const fs::path trace = kData / "gavel" / "msr_seed0" / "0e4a51.trace";
  std::map<std::pair<std::string, int>, double> table;
  for (const auto& line : lines_of(kGavelTable)) {
    auto f = split(line, ',');
    if (f[0] == "v100" && std::stod(f[3]) > 0) table[{f[1], std::stoi(f[2])}] = std::stod(f[3]);
  }
  TraceReadOptions options;
  options.gavel_throughputs = kGavelTable;
  auto jobs = read_all(trace, TraceFormat::kGavel, options);
  const auto lines = lines_of(trace);
  ASSERT_EQ(jobs.size(), lines.size());
  std::size_t exact = 0;
  for (const auto& job : jobs) {
    auto f = split(lines[static_cast<std::size_t>(job.line - 1)], '\t');
    ASSERT_EQ(f.size(), 7u);
    EXPECT_EQ(job.model, f[0]);
    EXPECT_EQ(job.gpus, std::stoi(f[6]));
    EXPECT_EQ(job.submit_s, std::stod(f[5]));
    EXPECT_EQ(job.group, "0e4a51");
    auto it = table.find({f[0], std::stoi(f[6])});
    if (it == table.end()) continue;
    ++exact;
    EXPECT_NEAR(job.duration_s, std::stod(f[4]) / it->second, 1e-9 * job.duration_s);
  }
  EXPECT_GT(exact, jobs.size() / 2);
}

TEST(GavelTest, WithoutAThroughputTableTheTraceIsRefusedAndBadRowsAreNamed) {
  auto refused = TraceReader::open(kData / "gavel" / "msr_seed0", TraceFormat::kGavel);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("throughput table"), std::string::npos);

  auto lines = lines_of(kData / "gavel" / "msr_seed0" / "0e4a51.trace");
  TempDir dir("trace");
  std::string text = lines[0] + "\n" + lines[1] + "\n";
  text += "Transformer (batch size 128)\tcmd\t-step\t1\t95121\t6.0\n";       // 6 fields
  text += "NoSuchModel (batch size 1)\tcmd\t-step\t1\t95121\t6.0\t1\n";      // unknown
  text += "Transformer (batch size 128)\tcmd\t-step\t1\t-5\t6.0\t1\n";       // steps
  text += "Transformer (batch size 128)\tcmd\t-step\t1\t95121\tlater\t1\n";  // arrival
  fs::path file = dir.write("vc.trace", text);
  TraceReadOptions options;
  options.gavel_throughputs = kGavelTable;
  auto s = inspect_trace(file, TraceFormat::kGavel, options);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats.jobs, 2u);
  ASSERT_EQ(s->stats.bad_rows, 4u);
  EXPECT_EQ(s->stats.first_bad_rows[0].where.line, 3);
  EXPECT_NE(s->stats.first_bad_rows[0].message.find("got 6"), std::string::npos);
  EXPECT_NE(s->stats.first_bad_rows[1].message.find("'NoSuchModel (batch size 1)'"),
            std::string::npos);
  EXPECT_NE(s->stats.first_bad_rows[2].message.find("total_steps"), std::string::npos);
  EXPECT_NE(s->stats.first_bad_rows[3].message.find("arrival"), std::string::npos);
}

TEST(HeliosTest, ReadsTheReadmeRowsWithDatesAndStates) {
  auto jobs = read_all(kRows / "helios_cluster_log_sample.csv", TraceFormat::kHelios);
  ASSERT_EQ(jobs.size(), 3u);
  // The log's own duration column (end - start) checks the date arithmetic.
  for (const auto& line : lines_of(kRows / "helios_cluster_log_sample.csv")) {
    auto f = split(line, ',');
    for (const auto& j : jobs) {
      if (j.id != f[0]) continue;
      EXPECT_EQ(j.duration_s, std::stod(f[10])) << line;
      EXPECT_EQ(*j.start_s - j.submit_s, std::stod(f[11])) << line;
      EXPECT_EQ(j.user, f[1]);
      EXPECT_EQ(j.group, f[2]);
      EXPECT_EQ(j.gpus, std::stod(f[3]));
    }
  }
  EXPECT_EQ(jobs[0].state, "completed");
  EXPECT_EQ(jobs[1].state, "failed");
  EXPECT_EQ(jobs[0].submit_s, 1591728061);  // 2020-06-09T18:41:01, taken as UTC
}

TEST(AcmeTest, ReadsBothClustersAndTakesEndMinusStartOverKalosDurationColumn) {
  auto seren = read_all(kRows / "acme_trace_seren_sample.csv", TraceFormat::kAcme);
  ASSERT_EQ(seren.size(), 2u);
  EXPECT_EQ(seren[0].duration_s, 117);  // = the duration column: end - start
  EXPECT_EQ(seren[1].duration_s, 2693);
  EXPECT_EQ(*seren[0].start_s - seren[0].submit_s, 32);  // = the queue column
  EXPECT_EQ(seren[0].submit_s, 1677601102);              // 2023-03-01 00:18:22+08:00
  EXPECT_EQ(seren[0].group, "");  // Acme's 'queue' column is a time, not a queue
  auto kalos = read_all(kRows / "acme_trace_kalos_sample.csv", TraceFormat::kAcme);
  ASSERT_EQ(kalos.size(), 2u);
  EXPECT_EQ(kalos[0].duration_s, 8);  // 11:01:08 to 11:01:16; the column says 18 (end - submit)
  EXPECT_EQ(kalos[1].duration_s, 70);
  EXPECT_EQ(kalos[0].gpus, 64);
  EXPECT_EQ(kalos[0].model, "Other");
}

TEST(AlibabaPaiTest, ReadsTheTaskTableWithSharesAndStatesTheMissingSubmitTime) {
  auto s = inspect_trace(kRows / "pai_task_table_sample.csv", TraceFormat::kAlibabaPai);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->stats.rows, 16u);
  EXPECT_EQ(s->stats.bad_rows, 0u);
  std::size_t cpu = 0, open = 0, jobs = 0;
  for (const auto& line : lines_of(kRows / "pai_task_table_sample.csv")) {
    auto f = split(line, ',');
    if (f[8].empty() || std::stod(f[8]) == 0) {
      ++cpu;
    } else if (f[5].empty()) {
      ++open;
    } else {
      ++jobs;
    }
  }
  EXPECT_EQ(s->stats.jobs, jobs);
  EXPECT_EQ(s->stats.skip_reasons.at("no GPU (a CPU-only task)"), cpu);
  EXPECT_EQ(s->stats.skip_reasons.at("no end time (still running at the end)"), open);
  EXPECT_EQ(s->with_start_times, 0u);
  EXPECT_EQ(s->gpu_histogram.at("<1"), 3u);  // plan_gpu 50: half a GPU
  EXPECT_NE(s->stats.assumptions[0].find("no submit time"), std::string::npos);
}

// The real example rows of each job log, then the same rows broken on purpose:
// every bad row is named by its line, the good ones still read.
struct Broken {
  const char* file;
  TraceFormat format;
  std::vector<std::pair<std::string, std::string>> edits;  // real text -> broken text
};

TEST(JobLogTest, BrokenRowsOfEveryLogAreCountedWithTheirLines) {
  const Broken cases[] = {
      {"helios_cluster_log_sample.csv",
       TraceFormat::kHelios,
       {{"uVMrF,vchbv,4,", "uVMrF,vchbv,-4,"}, {"2020-06-17 14:15:21", "2020-06-07 14:15:21"}}},
      {"acme_trace_seren_sample.csv",
       TraceFormat::kAcme,
       {{"2023-03-01 00:18:22+08:00", "2023-03-01 25:18:22+08:00"}}},
      {"pai_task_table_sample.csv",
       TraceFormat::kAlibabaPai,
       {{"c936346f45eccd34bf748541,tensorflow,1.0,", "c936346f45eccd34bf748541,tensorflow,1.5,"},
        {"455c3dec270f4777ad67721c,tensorflow,1.0,Terminated,3399583.0,3399732.0,600.0,",
         "455c3dec270f4777ad67721c,tensorflow,1.0,Terminated,3399583.0,3399500.0,600.0,"},
        {"2158213.0,600.0,29.296875,50.0,MISC", "2158213.0,600.0,29.296875,50.0"}}},
  };
  for (const Broken& c : cases) {
    SCOPED_TRACE(c.file);
    const fs::path real = kRows / c.file;
    auto before = inspect_trace(real, c.format);
    ASSERT_TRUE(before) << before.error().to_string();
    EXPECT_EQ(before->stats.bad_rows, 0u);
    auto lines = lines_of(real);
    std::vector<int> broken_lines;
    for (const auto& [from, to] : c.edits) {
      bool found = false;
      for (std::size_t i = 0; i < lines.size(); ++i) {
        auto at = lines[i].find(from);
        if (at == std::string::npos) continue;
        lines[i].replace(at, from.size(), to);
        broken_lines.push_back(static_cast<int>(i) + 1);
        found = true;
        break;
      }
      ASSERT_TRUE(found) << from;
    }
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    TempDir dir("trace");
    const fs::path file = dir.write(c.file, text);
    auto after = inspect_trace(file, c.format);
    ASSERT_TRUE(after) << after.error().to_string();
    std::vector<int> bad;
    for (const auto& d : after->stats.first_bad_rows) bad.push_back(d.where.line);
    std::sort(broken_lines.begin(), broken_lines.end());
    EXPECT_EQ(bad, broken_lines);
    EXPECT_EQ(after->stats.rows, before->stats.rows);
    EXPECT_LE(after->stats.jobs + broken_lines.size(), before->stats.jobs + before->stats.skipped);
    TraceReadOptions strict;
    strict.strict = true;
    auto stopped = inspect_trace(file, c.format, strict);
    ASSERT_FALSE(stopped);
    EXPECT_NE(stopped.error().message().find(":" + std::to_string(broken_lines[0]) + ":"),
              std::string::npos)
        << stopped.error().message();
  }
}

TEST(TraceImportTest, MapsModelsToChipsGroupsToTeamsAndDurationsToWork) {
  TraceMapping m;
  m.path = kOpenb;
  m.format = TraceFormat::kAlibabaOpenb;
  m.chips = {{"V100M16", {ChipId("a800")}}, {"V100M32", {ChipId("a800"), ChipId("h800")}}};
  m.default_chips = {ChipId("h100-sxm")};
  m.speed = {{"V100M16", 0.25}, {"V100M32", 0.3}};
  m.default_speed = 0.5;
  m.orgs = {{std::nullopt, std::string("BE"), std::nullopt, OrgId("bellhollow"), "batch"},
            {std::nullopt, std::nullopt, std::nullopt, OrgId("hanshan-sg"), ""}};
  m.time_scale = 0.5;
  m.until_s = 86400 * 30.0;
  const Instant origin = Instant::from_date(2026, 1, 1);
  auto imported = import_trace(m, origin);
  ASSERT_TRUE(imported) << imported.error().to_string();

  std::map<std::string, TraceJob> traced;
  for (auto& j : read_all(kOpenb, TraceFormat::kAlibabaOpenb)) traced[j.id] = j;
  std::size_t in_window = 0, shares = 0;
  double first = 1e18;
  for (const auto& [id, j] : traced) {
    if (j.submit_s < 86400 * 30.0) {
      ++in_window;
      first = std::min(first, j.submit_s);
      shares += j.gpus < 1;
    }
  }
  ASSERT_EQ(imported->jobs.size(), in_window);
  EXPECT_EQ(imported->outside_window, traced.size() - in_window);
  EXPECT_EQ(imported->rounded_up, shares);
  for (const auto& job : imported->jobs) {
    const TraceJob& t = traced.at(job.id.str());
    EXPECT_EQ(job.gpus, static_cast<int>(std::ceil(t.gpus)));
    EXPECT_EQ(job.submit, origin + Duration::from_seconds((t.submit_s - first) * 0.5));
    const bool be = t.group == "BE";
    EXPECT_EQ(job.org.str(), be ? "bellhollow" : "hanshan-sg");
    EXPECT_EQ(job.team, be ? "batch" : t.group);
    double speed = 0.5;
    std::vector<ChipId> chips = {ChipId("h100-sxm")};
    if (t.gpu_models == std::vector<std::string>{"V100M16", "V100M32"}) {
      speed = 0.25, chips = {ChipId("a800"), ChipId("h800")};
    } else if (t.gpu_models == std::vector<std::string>{"V100M32"}) {
      speed = 0.3, chips = {ChipId("a800"), ChipId("h800")};
    } else if (t.gpu_models == std::vector<std::string>{"V100M16"}) {
      speed = 0.25, chips = {ChipId("a800")};
    }
    EXPECT_EQ(job.eligible_chips, chips) << job.id.str();
    EXPECT_NEAR(job.work, t.duration_s / 3600 * job.gpus * speed, 1e-9 * job.work);
  }
  EXPECT_TRUE(
      std::is_sorted(imported->jobs.begin(), imported->jobs.end(),
                     [](const sched::Job& a, const sched::Job& b) { return a.submit < b.submit; }));
}

TEST(TraceImportTest, JobsNoRuleMatchesAreLeftOutAndCounted) {
  TraceMapping m;
  m.path = kOpenb;
  m.format = TraceFormat::kAlibabaOpenb;
  m.orgs = {{std::nullopt, std::string("LS"), std::nullopt, OrgId("hanshan-sg"), ""}};
  m.max_jobs = 100;
  auto imported = import_trace(m, Instant::from_date(2026, 1, 1));
  ASSERT_TRUE(imported);
  EXPECT_EQ(imported->jobs.size(), 100u);
  EXPECT_GT(imported->unmatched, 0u);
  for (const auto& j : imported->jobs) EXPECT_EQ(j.team, "LS");
}

TEST(ScenarioTraceTest, TheExampleScenariosLoadAndTheWhatIfExtendsTheBaseline) {
  auto base = load_scenario(kRoot / "examples" / "scenarios" / "hybrid-2025.yaml", kRoot);
  ASSERT_TRUE(base) << base.error().to_string();
  ASSERT_TRUE(base->trace);
  EXPECT_EQ(base->trace->format, TraceFormat::kGavel);
  EXPECT_EQ(base->rules.size(), 1u);
  auto what_if =
      load_scenario(kRoot / "examples" / "scenarios" / "close-remote-access.yaml", kRoot);
  ASSERT_TRUE(what_if) << what_if.error().to_string();
  EXPECT_EQ(what_if->name, "close-remote-access");
  EXPECT_EQ(what_if->rules.size(), 2u);
  EXPECT_EQ(what_if->params.at("close_from"), "2025-03-15");
  // Everything it does not say is the baseline's.
  EXPECT_EQ(what_if->start, base->start);
  EXPECT_EQ(what_if->leases.size(), base->leases.size());
  EXPECT_EQ(what_if->trace->path, base->trace->path);
  EXPECT_EQ(what_if->trace->orgs.size(), base->trace->orgs.size());
  EXPECT_EQ(what_if->seed, base->seed);
}

TEST(ScenarioTraceTest, BadTraceSettingsAreReportedWithTheirPlace) {
  TempDir dir("trace");
  fs::path file = dir.write("s.yaml",
                            "start: 2026-01-01\n"
                            "workload:\n"
                            "  trace:\n"
                            "    file: x.csv\n"
                            "    format: alibaba-opnb\n"
                            "    time_scale: -1\n"
                            "    orgs: [{team: a}]\n");
  auto s = load_scenario(file, kRoot);
  ASSERT_FALSE(s);
  const std::string text = s.error().to_string();
  EXPECT_NE(text.find(":5:"), std::string::npos) << text;  // the format
  EXPECT_NE(text.find("did you mean 'alibaba-openb'"), std::string::npos) << text;
  EXPECT_NE(text.find(":6:"), std::string::npos) << text;  // time_scale
  EXPECT_NE(text.find("needs 'org'"), std::string::npos) << text;

  fs::path loop = dir.write("loop.yaml", "extends: loop.yaml\n");
  auto looped = load_scenario(loop, kRoot);
  ASSERT_FALSE(looped);
  EXPECT_NE(looped.error().to_string().find("more than 8 deep"), std::string::npos);
}

// A run on a trace says what the import left out: bad rows with their
// lines, rows that are not jobs, assumptions; on stderr and in run.json.
TEST(ScenarioTraceTest, ARunReportsTheBadAndLeftOutRowsOfItsTrace) {
  auto lines = lines_of(kOpenb);
  TempDir dir("trace");
  std::string text;
  for (std::size_t i = 0; i <= 8; ++i) text += lines[i] + "\n";         // line 6 is a CPU-only pod
  text += "openb-pod-x1,12000,16384,two,1000,,LS,Running,0,100,0\n";    // line 10
  text += "openb-pod-x2,12000,16384,1,1000,,LS,Running,500,900,400\n";  // line 11
  dir.write("pods.csv", text);
  const fs::path file = dir.write("s.yaml",
                                  "start: 2026-01-01\n"
                                  "horizon: 200d\n"
                                  "workload:\n"
                                  "  trace: {file: pods.csv, format: alibaba-openb,\n"
                                  "          orgs: [{org: hanshan-sg}]}\n");
  auto scenario = load_scenario(file, kRoot);
  ASSERT_TRUE(scenario) << scenario.error().to_string();
  auto summary = run_simulation(*scenario, SimOptions{}, dir.path() / "out");
  ASSERT_TRUE(summary) << summary.error().to_string();
  EXPECT_EQ(summary->jobs, 7u);
  std::string notes;
  for (const auto& n : summary->workload_notes) notes += n + "\n";
  EXPECT_NE(notes.find("10 rows, 7 jobs simulated"), std::string::npos) << notes;
  EXPECT_NE(notes.find("1 rows left out: no GPU (a CPU-only pod)"), std::string::npos) << notes;
  EXPECT_NE(notes.find("2 bad rows skipped"), std::string::npos) << notes;
  EXPECT_NE(notes.find("pods.csv:10:"), std::string::npos) << notes;
  EXPECT_NE(notes.find("pods.csv:11:"), std::string::npos) << notes;
  std::ifstream run(dir.path() / "out" / "run.json");
  std::stringstream json;
  json << run.rdbuf();
  EXPECT_NE(json.str().find("\"workload_notes\""), std::string::npos);
  EXPECT_NE(json.str().find("2 bad rows skipped"), std::string::npos);
}

// The openb pods on a fleet shaped like their cluster: every replayed job
// runs exactly its traced time, so the GPU-hours (and utilisation) agree.
TEST(FidelityTest, ReplaysTheOpenbTraceAndSetsItsQueueingBesideTheTraces) {
  auto scenario = load_scenario(kRoot / "examples" / "fidelity" / "openb-fifo.yaml", kRoot);
  ASSERT_TRUE(scenario) << scenario.error().to_string();
  scenario->trace->max_jobs = 600;
  TempDir dir("fidelity");
  auto report = check_fidelity(*scenario, dir.path());
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_GT(report->jobs, 500u);
  EXPECT_LE(report->jobs, 600u);
  EXPECT_EQ(report->started_later + report->started_earlier + report->started_same, report->jobs);
  EXPECT_NEAR(report->simulated_utilisation, report->traced_utilisation,
              1e-6 + 1e-3 * report->traced_utilisation);
  EXPECT_LT(report->traced_share_utilisation, report->traced_utilisation);  // shares < 1 GPU
  // Quantiles are ordered, and the KS distance is what the quantiles allow.
  for (const auto* d : {&report->traced_queue_s, &report->simulated_queue_s}) {
    ASSERT_EQ(d->quantiles.size(), std::size(kFidelityQuantiles));
    for (std::size_t i = 1; i < d->quantiles.size(); ++i) {
      EXPECT_LE(d->quantiles[i - 1].second, d->quantiles[i].second);
    }
  }
  EXPECT_GE(report->ks_distance, 0);
  EXPECT_LE(report->ks_distance, 1);
  EXPECT_TRUE(fs::exists(dir.path() / "fidelity.json"));

  Scenario synthetic = *scenario;
  synthetic.trace.reset();
  synthetic.synthetic = GeneratorOptions{};
  auto refused = check_fidelity(synthetic, dir.path() / "x");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("must be a 'trace'"), std::string::npos);
}

}  // namespace
}  // namespace straits::sim
