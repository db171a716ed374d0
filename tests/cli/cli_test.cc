// Runs the real `straits` binary: exit codes, tables, JSON, error messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/shell.h"

namespace {

namespace fs = std::filesystem;

using Outcome = straits::testing::CommandResult;

Outcome straits(const std::string& args) {
  return straits::testing::run_command_capturing_stderr(std::string(STRAITS_BINARY) + " " + args);
}

const std::string kMinimal = std::string(STRAITS_TEST_DATA_DIR) + "/catalogs/minimal";

TEST(CliTest, VersionAndHelp) {
  Outcome version = straits("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("straits 0."), std::string::npos);
  Outcome help = straits("catalog show --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--json"), std::string::npos);
  EXPECT_NE(help.out.find("--catalog"), std::string::npos);
  Outcome top = straits("--help");
  EXPECT_NE(top.out.find("Exit codes"), std::string::npos);
}

TEST(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(straits("").exit_code, 2);
  EXPECT_EQ(straits("frobnicate").exit_code, 2);
  EXPECT_EQ(straits("catalog show planets").exit_code, 2);
  EXPECT_EQ(straits("catalog show chips --no-such-flag").exit_code, 2);
}

// A mistyped option or command: the nearest known one is named first, the
// exit code is still 2, and a word with nothing close gets no guess.
TEST(CliTest, MistypedOptionsAndCommandsSuggestTheNearest) {
  Outcome option = straits("sim run x.yaml --quite");
  EXPECT_EQ(option.exit_code, 2);
  EXPECT_EQ(option.err.rfind("straits: unknown option --quite; did you mean --quiet?\n", 0), 0u)
      << option.err;
  Outcome command = straits("lese list");
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_TRUE(command.err.find("unknown command lese; did you mean lease?") != std::string::npos)
      << command.err;
  // Values of options are skipped, even one that starts with '-'; "=" is cut.
  Outcome value = straits("job submit --priority -5 --gpus 1 --wrk=3");
  EXPECT_EQ(value.exit_code, 2);
  EXPECT_TRUE(value.err.find("unknown option --wrk; did you mean --work?") != std::string::npos)
      << value.err;
  // The options of the command itself, not of another one.
  Outcome json = straits("catalog show chips --jsn");
  EXPECT_TRUE(json.err.find("did you mean --json?") != std::string::npos) << json.err;
  Outcome far = straits("catalog show chips --no-such-flag");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
  Outcome known = straits("catalog show planets");
  EXPECT_EQ(known.err.find("did you mean"), std::string::npos) << known.err;
}

TEST(CliTest, ValidatesTheShippedCatalog) {
  Outcome run = straits("catalog validate");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("catalog OK: 15 chips, 249 countries"), std::string::npos) << run.out;
}

TEST(CliTest, BrokenCatalogExitsWithOneAndLocatesEveryError) {
  fs::path dir = fs::temp_directory_path() / ("straits-cli-broken-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(kMinimal, dir);
  std::ofstream(dir / "pools.yaml") << "pools:\n  - id: p\n    site: nowhere\n    nodes: -1\n";
  Outcome run = straits("catalog validate " + dir.string());
  fs::remove_all(dir);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("pools.yaml:4:12: pool 'p': 'nodes' must be greater than zero, got -1"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("pools.yaml:3:11: pool 'p': site 'nowhere' is not in sites.yaml"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("pools.yaml:2:5: pool 'p': missing required field 'chip'"),
            std::string::npos)
      << run.err;
}

TEST(CliTest, ShowsChipsAsATableWithDerivedFigures) {
  Outcome run = straits("catalog show chips");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::istringstream lines(run.out);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("ID", 0), 0u);
  EXPECT_NE(header.find("TPP"), std::string::npos);
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.rfind("h100-sxm ", 0) == 0) {
      found = true;
      EXPECT_NE(line.find("15832"), std::string::npos) << line;
      EXPECT_NE(line.find("19.45"), std::string::npos) << line;
      // Aligned: the TPP column ends where its header ends.
      EXPECT_EQ(line.size(), header.size()) << line;
    }
  }
  EXPECT_TRUE(found);
}

TEST(CliTest, ShowsJsonForScripts) {
  Outcome run = straits("catalog show chips --json --catalog " + kMinimal);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto chips = nlohmann::json::parse(run.out);
  ASSERT_TRUE(chips.is_array());
  ASSERT_EQ(chips.size(), 2u);
  EXPECT_EQ(chips[0]["id"], "h100-sxm");
  EXPECT_EQ(chips[0]["tpp"], 15832.0);
  EXPECT_EQ(chips[0]["performance_density"], 19.45);
  EXPECT_EQ(chips[0]["origin"], "US");

  Outcome orgs = straits("catalog show orgs --json --catalog " + kMinimal);
  auto list = nlohmann::json::parse(orgs.out);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2]["id"], "hanshan-sg");
  EXPECT_EQ(list[2]["ultimate_parent"], "hanshan");
  EXPECT_EQ(list[2]["parent_hq"], "CN");

  Outcome all = straits("catalog show --json --catalog " + kMinimal);
  auto everything = nlohmann::json::parse(all.out);
  for (const char* kind : {"chips", "countries", "groups", "operators", "sites", "pools", "orgs",
                           "licences", "datasets"}) {
    EXPECT_TRUE(everything.contains(kind)) << kind;
  }
  EXPECT_EQ(everything["pools"][0]["price_per_gpu_hour"]["amount"], "4.2008");
}

TEST(CliTest, ShowsEveryKindOfTheShippedCatalog) {
  for (const char* kind : {"chips", "countries", "groups", "operators", "sites", "pools", "orgs",
                           "licences", "datasets"}) {
    Outcome run = straits(std::string("catalog show ") + kind);
    EXPECT_EQ(run.exit_code, 0) << kind << ": " << run.err;
    EXPECT_GT(std::count(run.out.begin(), run.out.end(), '\n'), 2) << kind;
  }
  Outcome countries = straits("catalog show countries");
  EXPECT_NE(countries.out.find("CN    China"), std::string::npos);
}

TEST(CliPolicyTest, CheckPrintsTheDecisionAsJson) {
  Outcome today = straits(
      "policy check --action lease --org hanshan-sg --pool sg-tuas-1-h100 --at 2026-11-28 --json");
  ASSERT_EQ(today.exit_code, 0) << today.err;
  auto d = nlohmann::json::parse(today.out);
  EXPECT_EQ(d["decision"], "allow");
  ASSERT_FALSE(d["rules"].empty());
  for (const auto& r : d["rules"]) {
    for (const char* key : {"id", "effect", "title", "source"}) EXPECT_TRUE(r.contains(key)) << key;
  }
  EXPECT_FALSE(d["obligations"].empty());
  EXPECT_TRUE(d["licence"].is_null());
  // With the scenario laid over the default pack, the lease is denied from its date.
  Outcome closed = straits(
      "policy check --action lease --org hanshan-sg --pool sg-tuas-1-h100 --at 2027-03-01 "
      "--scenario close-remote-access --json");
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  auto c = nlohmann::json::parse(closed.out);
  EXPECT_EQ(c["decision"], "deny");
  Outcome before = straits(
      "policy check --action lease --org hanshan-sg --pool sg-tuas-1-h100 --at 2026-11-28 "
      "--scenario close-remote-access --json");
  EXPECT_EQ(nlohmann::json::parse(before.out)["valid_until"], "2027-01-01T00:00:00Z");
  Outcome moved = straits(
      "policy check --action lease --org hanshan-sg --pool sg-tuas-1-h100 --at 2026-11-28 "
      "--scenario close-remote-access --param close_from=2026-06-01 --json");
  EXPECT_EQ(nlohmann::json::parse(moved.out)["decision"], "deny");
}

TEST(CliPolicyTest, CheckExplainsInWordsAndLiftsWithALicence) {
  Outcome h20 = straits(
      "policy check --action ship --chip h20 --site cn-ulanqab-1 --by hanshan --at 2025-09-01");
  ASSERT_EQ(h20.exit_code, 0) << h20.err;
  EXPECT_EQ(h20.out.rfind("ALLOW: ship of h20 to cn-ulanqab-1 by hanshan on 2025-09-01", 0), 0u)
      << h20.out;
  EXPECT_NE(h20.out.find("held (lic-hanshan-h20-2025)"), std::string::npos) << h20.out;
  EXPECT_NE(h20.out.find("holds until: 2026-08-11"), std::string::npos) << h20.out;
}

TEST(CliPolicyTest, RunReadsAJobFile) {
  fs::path job =
      fs::temp_directory_path() / ("straits-job-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(job) << "org: qingluan-sg\ngpus: 512\ntraining_flops: 3.0e24\n"
                        "datasets: [qingluan-app-user-profiles]\n";
  // Personal data collected in China, trained on in Singapore: the CAC approval held by
  // qingluan-sg is valid from 2025-10-01 (lic-qingluan-sg-cac-2025).
  Outcome before = straits("policy check --action run --job " + job.string() +
                           " --pool sg-tuas-1-h100 --at 2025-06-01 --json");
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(nlohmann::json::parse(before.out)["decision"], "licence_required");
  Outcome after = straits("policy check --action run --job " + job.string() +
                          " --pool sg-tuas-1-h100 --at 2025-11-01 --json");
  auto d = nlohmann::json::parse(after.out);
  EXPECT_EQ(d["decision"], "allow") << after.out;
  EXPECT_EQ(d["licence"], "lic-qingluan-sg-cac-2025");
  std::ofstream(job) << "org: qingluan-sg\ngpus: [8]\n";
  Outcome bad =
      straits("policy check --action run --job " + job.string() + " --pool sg-tuas-1-h100");
  fs::remove(job);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(job.string() + ":2:7: job field 'gpus' has the wrong type"),
            std::string::npos)
      << bad.err;
}

TEST(CliPolicyTest, BadRequestsAreErrorsNotDecisions) {
  Outcome no_org = straits("policy check --action lease --org nobody --pool sg-tuas-1-h100");
  EXPECT_EQ(no_org.exit_code, 1);
  EXPECT_NE(no_org.err.find("no org 'nobody' in the catalog"), std::string::npos) << no_org.err;
  Outcome missing = straits("policy check --action lease --pool sg-tuas-1-h100");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--action lease needs --org"), std::string::npos);
  EXPECT_EQ(straits("policy check --org x").exit_code, 2);  // --action is required
  EXPECT_EQ(straits("policy check --action fly").exit_code, 2);
  Outcome param = straits(
      "policy check --action lease --org hanshan --pool sg-tuas-1-h100 --param nope=2026-01-01");
  EXPECT_EQ(param.exit_code, 1);
  EXPECT_NE(param.err.find("no loaded pack declares param 'nope'"), std::string::npos);
  Outcome date =
      straits("policy check --action lease --org hanshan --pool sg-tuas-1-h100 --at 2026-02-30");
  EXPECT_EQ(date.exit_code, 1);
  EXPECT_NE(date.err.find("day out of range"), std::string::npos);
}

TEST(CliPolicyTest, LintReportsEveryErrorOrCountsRules) {
  Outcome good = straits("policy lint " + std::string(STRAITS_SOURCE_DIR) + "/rules/default");
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("rules OK:"), std::string::npos);
  std::string broken = std::string(STRAITS_TEST_DATA_DIR) + "/policy/broken/names-and-types";
  Outcome bad = straits("policy lint " + broken + " --catalog " + kMinimal);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(broken + "/a.rules:6:8: rule 'names.unknown-attribute': unknown "
                                  "attribute 'chip.tp' (did you mean 'chip.tpp'?)"),
            std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("14 errors"), std::string::npos);
}

TEST(CliPolicyTest, TimelineListsTheIntervalsOfOneSubject) {
  Outcome t = straits(
      "policy timeline --action ship --chip a800 --site cn-hangzhou-1 --from 2022-01-01 "
      "--to 2026-01-01 --json");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  auto j = nlohmann::json::parse(t.out);
  auto& intervals = j["intervals"];
  ASSERT_GE(intervals.size(), 2u);
  // A800 (I/O 400 GB/s) was outside the Oct 2022 test; the Oct 2023 rule caught it.
  EXPECT_EQ(intervals[0]["decision"], "allow");
  EXPECT_EQ(intervals[0]["from"], "2022-01-01T00:00:00Z");
  bool caught = false;
  for (const auto& i : intervals) {
    if (i["from"] == "2023-11-17T00:00:00Z") caught = i["decision"] == "licence_required";
  }
  EXPECT_TRUE(caught) << t.out;
  for (std::size_t i = 1; i < intervals.size(); ++i) {
    EXPECT_EQ(intervals[i]["from"], intervals[i - 1]["until"]);  // no gaps, no overlaps
  }
}

TEST(CliPolicyTest, MatrixCoversEveryOrgAndPool) {
  Outcome m = straits("policy matrix --at 2027-03-01 --scenario close-remote-access --json");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  auto j = nlohmann::json::parse(m.out);
  // One cell per org and pool of the shipped catalog.
  auto orgs = nlohmann::json::parse(straits("catalog show orgs --json").out);
  auto pools = nlohmann::json::parse(straits("catalog show pools --json").out);
  ASSERT_GE(orgs.size(), 10u);
  ASSERT_GE(pools.size(), 17u);
  EXPECT_EQ(j["cells"].size(), orgs.size() * pools.size());
  int denied = 0;
  for (const auto& c : j["cells"]) denied += c["decision"] == "deny" ? 1 : 0;
  EXPECT_GT(denied, 0);
  Outcome table = straits("policy matrix --at 2026-11-28");
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("sg-tuas-1-h100"), std::string::npos);
}

TEST(CliPolicyTest, DiffNamesTheChangesAndRefusesTwoCatalogs) {
  const std::string rules = std::string(STRAITS_SOURCE_DIR) + "/rules/default";
  Outcome d = straits("policy diff --base " + rules + " --with " + rules +
                      " --with close-remote-access --from 2026-06-01 --to 2027-06-01 --json");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  auto j = nlohmann::json::parse(d.out);
  EXPECT_GT(j["changed_rows"].get<int>(), 0);
  EXPECT_NE(d.out.find("scenario.close-remote-access.lease-run"), std::string::npos);
  Outcome other = straits("policy diff --base " + rules + " --with " + rules + " --base-catalog " +
                          std::string(STRAITS_SOURCE_DIR) + "/catalog --with-catalog " + kMinimal);
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_EQ(other.out, "");
  EXPECT_NE(other.err.find("different catalogs"), std::string::npos) << other.err;
  Outcome empty = straits("policy diff --base " + rules + " --with " + rules +
                          " --from 2027-01-01 --to 2027-01-01");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;
}

TEST(CliTest, MissingCatalogFolderIsAnError) {
  Outcome run = straits("catalog show chips --catalog /nonexistent/catalog");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("/nonexistent/catalog"), std::string::npos) << run.err;
}

TEST(CliSimTest, RunWritesTheReportWhenAskedAndReportRedrawsIt) {
  const fs::path out =
      fs::temp_directory_path() / ("straits-cli-report-" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string scenario = std::string(STRAITS_TEST_DATA_DIR) + "/sim/report/scenario.yaml";
  Outcome run = straits("sim run " + scenario + " --out " + out.string() + " --report");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("report in " + (out / "report.html").string()), std::string::npos)
      << run.out;
  std::ifstream first(out / "report.html");
  std::stringstream page;
  page << first.rdbuf();
  EXPECT_NE(page.str().find("data-chart=\"utilisation-site\""), std::string::npos);
  // Redrawn from the folder alone, to another file: the same page.
  Outcome again = straits("sim report " + out.string() + " --out " + (out / "again.html").string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "report in " + (out / "again.html").string() + "\n");
  std::ifstream second(out / "again.html");
  std::stringstream redrawn;
  redrawn << second.rdbuf();
  EXPECT_TRUE(redrawn.str() == page.str());
  // A folder that is no run: an error naming what is missing, exit code 1.
  Outcome none = straits("sim report " + (out / "nothing").string());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find((out / "nothing" / "run.json").string()), std::string::npos) << none.err;
  fs::remove_all(out);
}

TEST(CliDbTest, MigrateThenStatusOnAnSqliteFileAndABadStoreIsAnError) {
  const fs::path db = fs::temp_directory_path() / ("straits-cli-db-" + std::to_string(::getpid()));
  fs::remove(db);
  Outcome before = straits("db status --store sqlite:" + db.string());
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.out.find("schema version 0 of "), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("pending  0001 audit log"), std::string::npos) << before.out;
  Outcome migrate = straits("db migrate --store sqlite:" + db.string());
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  EXPECT_NE(migrate.out.find("applied  0001 audit log"), std::string::npos) << migrate.out;
  EXPECT_EQ(migrate.out.find("pending"), std::string::npos) << migrate.out;
  Outcome bad = straits("db status --store mysql://x");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("use sqlite:PATH"), std::string::npos) << bad.err;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
}

TEST(CliTraceTest, InspectPrintsASummaryAndTheSameAsJson) {
  const std::string gavel = std::string(STRAITS_SOURCE_DIR) + "/data/gavel/msr_seed0";
  Outcome text = straits("trace inspect " + gavel + " --format gavel");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("jobs        15264 of 15264 rows"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("GPU-hours"), std::string::npos);
  EXPECT_NE(text.out.find("assumed     durations are total_steps"), std::string::npos);
  Outcome json = straits("trace inspect " + gavel + " --format gavel --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["jobs"], 15264);
  EXPECT_EQ(j["groups"], 15);  // one virtual cluster per file
  std::size_t sized = 0;
  for (const auto& h : j["gpu_histogram"]) sized += h["jobs"].get<std::size_t>();
  EXPECT_EQ(sized, 15264u);
}

TEST(CliTraceTest, BadFormatsFilesAndRowsAreErrorsNamingThem) {
  Outcome format = straits("trace inspect x.csv --format helio");
  EXPECT_EQ(format.exit_code, 1);
  EXPECT_NE(format.err.find("did you mean 'helios'"), std::string::npos) << format.err;
  Outcome missing = straits("trace inspect /nonexistent.csv --format helios");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent.csv"), std::string::npos) << missing.err;
  // The openb node list is not a pod list: its header lacks the times.
  const std::string nodes =
      std::string(STRAITS_SOURCE_DIR) + "/data/alibaba-clusterdata/openb_node_list_gpu_node.csv";
  Outcome wrong = straits("trace inspect " + nodes + " --format alibaba-openb");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("openb_node_list_gpu_node.csv:1: missing column 'num_gpu'"),
            std::string::npos)
      << wrong.err;
}

}  // namespace
