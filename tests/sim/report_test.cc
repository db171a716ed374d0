// The run report on a real run: tests/data/sim/report/scenario.yaml (the
// shipped catalog and rules, the close-remote-access rule taking effect on
// 2026-01-06, lease l2 ending on 2026-01-04; the file says which jobs it
// moves and stops). What the page must show is counted here from the run's
// own files and the catalog, independently of the report's code.
#include "sim/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "catalog/load.h"
#include "policy/temp_dir.h"
#include "sim/engine.h"
#include "sim/internal/csv.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_util::TempDir;

const fs::path kSource(STRAITS_SOURCE_DIR);
const fs::path kScenario = fs::path(STRAITS_TEST_DATA_DIR) / "sim" / "report" / "scenario.yaml";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A CSV file as rows of named cells.
std::vector<std::map<std::string, std::string>> read_table(const fs::path& p) {
  Diagnostics diagnostics;
  auto records = internal::split_csv(read_file(p), p.string(), diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << p;
  std::vector<std::map<std::string, std::string>> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < records[0].fields.size(); ++c) {
      row[records[0].fields[c]] = records[r].fields.at(c);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status simulate(const fs::path& out) {
  auto scenario = load_scenario(kScenario, kSource);
  if (!scenario) return std::move(scenario).error();
  auto run = run_simulation(*scenario, SimOptions{}, out);
  if (!run) return std::move(run).error();
  return ok();
}

// The opening tag of the chart `id`.
std::string chart_tag(const std::string& html, const std::string& id) {
  auto at = html.find("<svg class=\"chart\" data-chart=\"" + id + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find('>', at) - at);
}

// The <svg> element of the chart `id`, whole.
std::string chart(const std::string& html, const std::string& id) {
  auto at = html.find("<svg class=\"chart\" data-chart=\"" + id + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</svg>", at) - at);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("report");
    Status ran = simulate(dir_->path() / "run");
    ASSERT_TRUE(ran) << ran.error().to_string();
    Status written = write_report(dir_->path() / "run", dir_->path() / "report.html");
    ASSERT_TRUE(written) << written.error().to_string();
    html_ = new std::string(read_file(dir_->path() / "report.html"));
  }
  static void TearDownTestSuite() {
    delete html_;
    delete dir_;
  }
  static fs::path run() { return dir_->path() / "run"; }
  static const std::string& html() { return *html_; }

  static TempDir* dir_;
  static std::string* html_;
};

TempDir* ReportTest::dir_ = nullptr;
std::string* ReportTest::html_ = nullptr;

TEST_F(ReportTest, IsOnePageWithNothingToFetch) {
  ASSERT_FALSE(html().empty());
  EXPECT_TRUE(html().starts_with("<!DOCTYPE html>"));
  EXPECT_THAT(html(), HasSubstr("Simulation report: report-test"));
  EXPECT_THAT(html(), HasSubstr("Window 2026-01-01T00:00:00Z to 2026-01-21T00:00:00Z"));
  EXPECT_THAT(html(), HasSubstr("seed 5"));
  // No external resource of any kind: no src or href, no url() but the
  // charts' own clip paths, no @import.
  EXPECT_EQ(count(html(), " src="), 0u);
  EXPECT_EQ(count(html(), "href"), 0u);
  EXPECT_EQ(count(html(), "@import"), 0u);
  EXPECT_EQ(count(html(), "url("), count(html(), "url(#"));
  EXPECT_EQ(count(html(), "http"), count(html(), "http://www.w3.org/2000/svg"));
}

TEST_F(ReportTest, DrawsEveryChartWithASeriesPerSiteCountryAndChipUsed) {
  // What ran where, from intervals.csv and the shipped catalog.
  auto catalog = catalog::load_catalog(kSource / "catalog");
  ASSERT_TRUE(catalog);
  std::set<std::string> sites, countries, chips;
  for (const auto& row : read_table(run() / "intervals.csv")) {
    const catalog::Pool* pool = catalog->find_pool(PoolId(row.at("pool")));
    ASSERT_NE(pool, nullptr);
    sites.insert(pool->site.str());
    countries.insert(catalog->find_site(pool->site)->country.str());
    chips.insert(pool->chip.str());
  }
  // The scenario uses sg-tuas-1 (l1), jp-tokyo-1 (l2), sg-jurong-1 (l3) and
  // hanshan's own pools in China.
  EXPECT_TRUE(sites.count("sg-tuas-1") && sites.count("jp-tokyo-1") && sites.count("sg-jurong-1"));
  EXPECT_TRUE(countries.count("SG") && countries.count("JP") && countries.count("CN"));
  EXPECT_GE(chips.size(), 2u);

  auto series = [](std::size_t n) { return "data-series=\"" + std::to_string(n) + "\""; };
  EXPECT_THAT(chart_tag(html(), "utilisation-site"), HasSubstr(series(sites.size())));
  EXPECT_THAT(chart_tag(html(), "utilisation-country"), HasSubstr(series(countries.size())));
  for (const auto& s : sites) {
    EXPECT_THAT(chart(html(), "utilisation-site"), HasSubstr("data-name=\"" + s + "\"")) << s;
  }
  for (const auto& c : countries) {
    EXPECT_THAT(chart(html(), "utilisation-country"), HasSubstr("data-name=\"" + c + "\"")) << c;
  }
  EXPECT_THAT(chart_tag(html(), "queue"), HasSubstr(series(1)));
  EXPECT_THAT(chart_tag(html(), "cost"), HasSubstr(series(1)));
  EXPECT_THAT(chart_tag(html(), "jct-cdf"), HasSubstr(series(1)));
  EXPECT_THAT(chart_tag(html(), "delay-cdf"), HasSubstr(series(1)));
  // GPU-hours by chip: one bar per chip used.
  const std::string bars = chart(html(), "gpu-hours-chip");
  EXPECT_EQ(count(bars, "<rect class=\"bar\""), chips.size());
  for (const auto& c : chips) EXPECT_THAT(bars, HasSubstr("data-category=\"" + c + "\"")) << c;
}

TEST_F(ReportTest, MarksEveryRuleChangeOnEveryTimeAxis) {
  // run.json lists the changes in the window: the scenario rule on
  // 2026-01-06, the default pack's 2026-01-14 rule and its four 2026-01-15 rules.
  const std::string run_json = read_file(run() / "run.json");
  const std::size_t changes = count(run_json, "\"change\":");
  EXPECT_EQ(changes, 6u) << run_json;
  for (const char* id : {"utilisation-site", "utilisation-country", "queue", "cost"}) {
    const std::string svg = chart(html(), id);
    EXPECT_THAT(chart_tag(html(), id),
                HasSubstr("data-markers=\"" + std::to_string(changes) + "\""))
        << id;
    EXPECT_EQ(count(svg, "<g class=\"marker\""), changes) << id;
    EXPECT_THAT(svg, HasSubstr("data-x=\"2026-01-06T00:00:00Z\" data-label=\"R1\"")) << id;
    EXPECT_THAT(svg, HasSubstr("scenario.close-remote-access.lease-run starts")) << id;
  }
  // Not on the CDFs, which have no time axis.
  EXPECT_EQ(count(chart(html(), "jct-cdf"), "<g class=\"marker\""), 0u);
}

TEST_F(ReportTest, TheTableByRuleAgreesWithMovesCsv) {
  std::map<std::string, std::pair<int, int>> by_rule;  // moved, stopped
  int lease_moves = 0;
  for (const auto& row : read_table(run() / "moves.csv")) {
    if (row.at("rule").empty()) {
      lease_moves += row.at("kind") == "moved";
      continue;
    }
    if (row.at("kind") == "moved") ++by_rule[row.at("rule")].first;
    if (row.at("kind") == "stopped") ++by_rule[row.at("rule")].second;
  }
  // The scenario moved rule-stuck and rule-home and stopped rule-stuck; l2's end moved lease-end.
  const std::string rule = "scenario.close-remote-access.lease-run";
  EXPECT_EQ(by_rule[rule], (std::pair<int, int>{2, 1}));
  EXPECT_EQ(lease_moves, 1);
  for (const auto& [id, counts] : by_rule) {
    EXPECT_THAT(html(),
                HasSubstr("data-rule=\"" + id + "\" data-moved=\"" + std::to_string(counts.first) +
                          "\" data-stopped=\"" + std::to_string(counts.second) + "\""))
        << id;
  }
  // rule-late never started, refused by the rule (jobs.csv's rule column).
  EXPECT_THAT(html(), HasSubstr("data-rule=\"" + rule +
                                "\" data-moved=\"2\" data-stopped=\"1\" "
                                "data-never=\"1\""));
  EXPECT_THAT(html(), HasSubstr("data-rule=\"\" data-moved=\"1\""));  // the lease end
  // The default pack's rules changed in the window but moved nothing: listed with zeros.
  EXPECT_THAT(html(), HasSubstr("data-rule=\"us.china.jan2026.case-by-case\" data-moved=\"0\" "
                                "data-stopped=\"0\" data-never=\"0\""));
}

TEST_F(ReportTest, TheMainNumbersAreTheRunsOwn) {
  // jobs.csv: 304 jobs, 301 completed, rule-stuck stopped, rule-late never.
  auto jobs = read_table(run() / "jobs.csv");
  std::map<std::string, int> states;
  for (const auto& j : jobs) ++states[j.at("state")];
  EXPECT_THAT(html(), HasSubstr(std::to_string(states["completed"]) + " of " +
                                std::to_string(jobs.size())));
  EXPECT_EQ(states["stopped"], 1);
  EXPECT_EQ(states["never"], 1);
  EXPECT_THAT(html(), HasSubstr(">1 / 1<"));  // stopped / never
}

TEST_F(ReportTest, SameRunSameBytes) {
  TempDir other("report-again");
  Status ran = simulate(other.path() / "run");
  ASSERT_TRUE(ran) << ran.error().to_string();
  ASSERT_TRUE(write_report(other.path() / "run", other.path() / "report.html"));
  EXPECT_TRUE(read_file(other.path() / "report.html") == html());
}

// A copy of the run with `file` replaced by `text` (or removed when empty).
fs::path broken_copy(const TempDir& dir, const fs::path& run, const std::string& file,
                     const std::string& text) {
  fs::path copy = dir.path() / "run";
  fs::create_directories(copy);
  for (const auto& e : fs::directory_iterator(run)) {
    fs::copy_file(e.path(), copy / e.path().filename(), fs::copy_options::overwrite_existing);
  }
  fs::remove(copy / file);
  if (!text.empty()) std::ofstream(copy / file, std::ios::binary) << text;
  return copy;
}

TEST_F(ReportTest, AMissingOrBrokenFileIsNamed) {
  for (const char* file :
       {"run.json", "jobs.csv", "intervals.csv", "timeseries.csv", "moves.csv"}) {
    TempDir dir("report-missing");
    fs::path copy = broken_copy(dir, run(), file, "");
    Status s = write_report(copy, dir.path() / "report.html");
    ASSERT_FALSE(s) << file;
    EXPECT_EQ(s.error().code(), ErrorCode::kNotFound) << file;
    EXPECT_THAT(s.error().to_string(), HasSubstr((copy / file).string())) << file;
  }
  {
    // A bad number on line 3 and a short row on line 4 of intervals.csv.
    std::string text = read_file(run() / "intervals.csv");
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_GT(lines.size(), 4u);
    lines[2] = std::regex_replace(lines[2], std::regex(",(\\d+\\.\\d\\d)$"), ",lots");
    lines[3] = "job-x,bellhollow";
    std::string broken;
    for (const auto& l : lines) broken += l + "\n";
    TempDir dir("report-broken");
    fs::path copy = broken_copy(dir, run(), "intervals.csv", broken);
    Status s = write_report(copy, dir.path() / "report.html");
    ASSERT_FALSE(s);
    const std::string file = (copy / "intervals.csv").string();
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.error().to_string(), HasSubstr(file + ":3: 'cost' must be a number, got 'lots'"));
    EXPECT_THAT(s.error().to_string(),
                HasSubstr(file + ":4: expected 9 fields as in the header, got 2"));
    EXPECT_FALSE(fs::exists(dir.path() / "report.html"));
  }
  {
    TempDir dir("report-old");
    std::string run_json = read_file(run() / "run.json");
    run_json.replace(run_json.find("\"rule_changes\""), 14, "\"renamed\"");
    fs::path copy = broken_copy(dir, run(), "run.json", run_json);
    Status s = write_report(copy, dir.path() / "report.html");
    ASSERT_FALSE(s);
    EXPECT_THAT(s.error().to_string(),
                HasSubstr((copy / "run.json").string() + ": 'rule_changes' missing"));
  }
  {
    TempDir dir("report-header");
    fs::path copy = broken_copy(dir, run(), "moves.csv", "job,org,kind\n");
    Status s = write_report(copy, dir.path() / "report.html");
    ASSERT_FALSE(s);
    EXPECT_THAT(s.error().to_string(),
                HasSubstr((copy / "moves.csv").string() + ":1: missing column 'rule'"));
  }
}

}  // namespace
}  // namespace straits::sim
