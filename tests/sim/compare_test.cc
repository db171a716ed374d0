// What-if comparisons and sweeps on real runs: a baseline over the shipped
// catalog and default rules, and a what-if that lays the shipped
// close-remote-access pack over it, closing hanshan-sg's leased H100s on
// day 2. Every expected figure is recomputed here from the runs' own files.
#include "sim/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "policy/temp_dir.h"
#include "sim/engine.h"
#include "sim/sweep.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

const fs::path kSource(STRAITS_SOURCE_DIR);

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// jobs.csv as maps from column name to cell (quoted cells may hold commas).
std::vector<std::map<std::string, std::string>> read_jobs(const fs::path& p) {
  std::istringstream in(read_file(p));
  std::string line;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (char c : l) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.emplace_back();
      } else {
        cells.back() += c;
      }
    }
    return cells;
  };
  std::getline(in, line);
  const std::vector<std::string> header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    auto cells = split(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

// The documented percentile: linear between the two nearest ranks.
double p95(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = 0.95 * static_cast<double>(v.size() - 1);
  const std::size_t below = static_cast<std::size_t>(rank);
  const double above = below + 1 < v.size() ? v[below + 1] : v[below];
  return v[below] + (above - v[below]) * (rank - static_cast<double>(below));
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

// The figures of one run, straight from its jobs.csv.
struct Figures {
  double mean_jct = 0, p95_jct = 0, mean_queue = 0, p95_queue = 0, cost = 0, lost = 0;
  double moves = 0;
  std::map<std::string, double> states;
  double state(const std::string& name) const {
    auto it = states.find(name);
    return it == states.end() ? 0 : it->second;
  }
};

Figures figures_of(const fs::path& jobs_csv) {
  Figures f;
  std::vector<double> jct, queue;
  long long cents = 0;
  for (const auto& r : read_jobs(jobs_csv)) {
    f.states[r.at("state")] += 1;
    if (r.at("state") == "completed") jct.push_back(std::stod(r.at("jct_s")) / 3600);
    if (!r.at("queue_delay_s").empty()) queue.push_back(std::stod(r.at("queue_delay_s")) / 3600);
    cents += std::llround(std::stod(r.at("cost")) * 100);
    f.lost += std::stod(r.at("lost_gpu_hours"));
    f.moves += std::stod(r.at("moves"));
  }
  f.mean_jct = mean(jct);
  f.p95_jct = p95(jct);
  f.mean_queue = mean(queue);
  f.p95_queue = p95(queue);
  f.cost = static_cast<double>(cents) / 100;
  return f;
}

// Jobs drawn for hanshan-sg (leases in Singapore) and bellhollow (Tokyo),
// each allowed h100-sxm, h800 or both: after the close, hanshan-sg's
// H100-only jobs can run nowhere, its others move to its parent's H800s.
const char* kBaseline =
    "name: base\n"
    "start: 2026-01-01\n"
    "horizon: 10d\n"
    "seed: 7\n"
    "leases:\n"
    "  - {id: l1, org: hanshan-sg, pool: sg-tuas-1-h100, gpus: 256, start: 2026-01-01, "
    "end: 2026-03-01}\n"
    "  - {id: l2, org: bellhollow, pool: jp-tokyo-1-h100, gpus: 256, start: 2026-01-01, "
    "end: 2026-03-01}\n"
    "workload:\n"
    "  synthetic: {jobs: 300, load: 0.8, fleet_gpus: 96, max_gpus: 32, median_hours: 2,\n"
    "              orgs: {hanshan-sg: 2, bellhollow: 1}, teams_per_org: 2,\n"
    "              chips: [h100-sxm, h800]}\n"
    "scheduler: {policy: easy-backfill}\n";

const char* kWhatIf =
    "extends: base.yaml\n"
    "name: closed\n"
    "rules: [default, scenarios/close-remote-access]\n"
    "params: {close_from: 2026-01-02}\n"
    "seed: 8\n";  // on its own it would draw other jobs: compare gives it the baseline's

struct Scenarios {
  TempDir dir{"compare"};
  Scenario baseline, whatif;

  Scenarios() {
    dir.write("base.yaml", kBaseline);
    dir.write("whatif.yaml", kWhatIf);
    auto b = load_scenario(dir.path() / "base.yaml", kSource);
    auto w = load_scenario(dir.path() / "whatif.yaml", kSource);
    if (!b || !w) {
      ADD_FAILURE() << (b ? w.error().to_string() : b.error().to_string());
      return;
    }
    baseline = *b;
    whatif = *w;
  }
};

class CompareTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scenarios_ = new Scenarios();
    out_ = scenarios_->dir.path() / "out";
    auto c = compare_scenarios(scenarios_->baseline, scenarios_->whatif, out_, {});
    ASSERT_TRUE(c) << c.error().to_string();
    comparison_ = new Comparison(*c);
  }
  static void TearDownTestSuite() {
    delete comparison_;
    delete scenarios_;
  }
  static const MetricDelta& metric(const std::string& key) {
    for (const auto& m : comparison_->metrics) {
      if (m.key == key) return m;
    }
    for (const auto& m : comparison_->states) {
      if (m.key == key) return m;
    }
    ADD_FAILURE() << "no metric " << key;
    return comparison_->metrics.front();
  }

  void SetUp() override { ASSERT_NE(comparison_, nullptr) << "the comparison failed"; }

  static Scenarios* scenarios_;
  static fs::path out_;
  static Comparison* comparison_;
};

Scenarios* CompareTest::scenarios_ = nullptr;
fs::path CompareTest::out_;
Comparison* CompareTest::comparison_ = nullptr;

TEST_F(CompareTest, BothRunsSawTheSameJobs) {
  const std::string workload = read_file(out_ / "baseline" / "workload.jsonl");
  EXPECT_EQ(std::count(workload.begin(), workload.end(), '\n'), 300);
  EXPECT_EQ(read_file(out_ / "whatif" / "workload.jsonl"), workload);
  std::set<std::string> ids[2];
  for (int k = 0; k < 2; ++k) {
    for (const auto& r : read_jobs(out_ / (k == 0 ? "baseline" : "whatif") / "jobs.csv")) {
      ids[k].insert(r.at("id"));
    }
  }
  EXPECT_EQ(ids[0].size(), 300u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(comparison_->baseline.jobs, 300u);
  EXPECT_EQ(comparison_->seed, 7u);
  // The what-if's own run.json carries the baseline's seed.
  EXPECT_NE(read_file(out_ / "whatif" / "run.json").find("\"seed\": 7"), std::string::npos);
}

TEST_F(CompareTest, DeltasAreThoseOfTheTwoJobsFiles) {
  const Figures a = figures_of(out_ / "baseline" / "jobs.csv");
  const Figures b = figures_of(out_ / "whatif" / "jobs.csv");
  const std::pair<std::string, std::pair<double, double>> expected[] = {
      {"mean_jct_hours", {a.mean_jct, b.mean_jct}},
      {"p95_jct_hours", {a.p95_jct, b.p95_jct}},
      {"mean_queue_hours", {a.mean_queue, b.mean_queue}},
      {"p95_queue_hours", {a.p95_queue, b.p95_queue}},
      {"total_cost", {a.cost, b.cost}},
      {"gpu_hours_lost", {a.lost, b.lost}},
      {"moves", {a.moves, b.moves}},
      {"could_never_run",
       {a.state("stopped") + a.state("never"), b.state("stopped") + b.state("never")}},
      {"completed", {a.state("completed"), b.state("completed")}},
      {"running", {a.state("running"), b.state("running")}},
      {"pending", {a.state("pending"), b.state("pending")}},
      {"stopped", {a.state("stopped"), b.state("stopped")}},
      {"never", {a.state("never"), b.state("never")}},
  };
  for (const auto& [key, values] : expected) {
    const MetricDelta& m = metric(key);
    EXPECT_NEAR(m.baseline, values.first, 1e-6) << key;
    EXPECT_NEAR(m.whatif, values.second, 1e-6) << key;
    EXPECT_NEAR(m.delta, values.second - values.first, 1e-6) << key;
    if (values.first != 0) {
      ASSERT_TRUE(m.ratio) << key;
      EXPECT_NEAR(*m.ratio, values.second / values.first, 1e-9) << key;
    } else {
      EXPECT_FALSE(m.ratio) << key;
    }
  }
  // The close changes things: fewer jobs complete, some move.
  EXPECT_LT(b.state("completed"), a.state("completed"));
  EXPECT_GT(b.moves, 0);
  EXPECT_GT(b.lost, 0);
}

TEST_F(CompareTest, JobsTheRuleStopsAppearOnlyInTheWhatIf) {
  std::map<std::string, std::map<std::string, std::string>> base;
  for (auto& r : read_jobs(out_ / "baseline" / "jobs.csv")) base[r.at("id")] = r;
  std::set<std::string> expected;
  std::size_t completed_before = 0, in_both = 0;
  for (const auto& r : read_jobs(out_ / "whatif" / "jobs.csv")) {
    const std::string& state = r.at("state");
    const std::string& before = base.at(r.at("id")).at("state");
    const bool nowhere = state == "never" || state == "stopped";
    const bool nowhere_before = before == "never" || before == "stopped";
    if (nowhere && nowhere_before) ++in_both;
    if (!nowhere || nowhere_before) continue;
    expected.insert(r.at("id"));
    if (before == "completed") ++completed_before;
    // Only hanshan-sg's jobs, and because of the rule.
    EXPECT_EQ(r.at("org"), "hanshan-sg");
    EXPECT_NE(r.at("reason").find("scenario.close-remote-access"), std::string::npos)
        << r.at("reason");
  }
  std::set<std::string> listed;
  for (const auto& l : comparison_->no_longer_run) listed.insert(l.id);
  EXPECT_GT(expected.size(), 10u);
  EXPECT_EQ(listed, expected);
  EXPECT_EQ(comparison_->no_longer_run_completed_in_baseline, completed_before);
  EXPECT_EQ(comparison_->ran_nowhere_in_both, in_both);
  // The rule is in the what-if alone: the baseline never cites it, and moves nothing.
  for (const auto& [id, r] : base) {
    EXPECT_EQ(r.at("reason").find("close-remote-access"), std::string::npos) << id;
    EXPECT_EQ(r.at("moves"), "0") << id;
  }
}

TEST_F(CompareTest, TeamFinishTimesAreEachTeamsLastEnd) {
  std::size_t finished_in_both = 0, unfinished = 0;
  for (const auto& t : comparison_->teams) {
    const TeamProgress* sides[2] = {&t.baseline, &t.whatif};
    for (int k = 0; k < 2; ++k) {
      std::optional<Instant> last;
      std::size_t jobs = 0, left = 0;
      for (const auto& r : read_jobs(out_ / (k == 0 ? "baseline" : "whatif") / "jobs.csv")) {
        if (r.at("org") != t.org || r.at("team") != t.team) continue;
        ++jobs;
        if (r.at("state") != "completed") {
          ++left;
        } else {
          const Instant end = *parse_instant(r.at("end"));
          if (!last || end > *last) last = end;
        }
      }
      EXPECT_EQ(jobs, t.jobs);
      EXPECT_EQ(sides[k]->jobs_left, left) << t.org << "/" << t.team;
      if (left == 0) {
        ASSERT_TRUE(sides[k]->finished);
        EXPECT_EQ(*sides[k]->finished, *last) << t.org << "/" << t.team;
      } else {
        EXPECT_FALSE(sides[k]->finished);
        ++unfinished;
      }
    }
    if (t.baseline.finished && t.whatif.finished) {
      ++finished_in_both;
      EXPECT_EQ(*t.delay(), *t.whatif.finished - *t.baseline.finished);
    } else {
      EXPECT_FALSE(t.delay());
    }
  }
  EXPECT_EQ(comparison_->teams.size(), 4u);  // 2 orgs x 2 teams
  EXPECT_GT(unfinished, 0u);                 // the close leaves hanshan-sg's work undone
  (void)finished_in_both;
}

TEST_F(CompareTest, UtilisationByCountryIsEachRunsSummary) {
  std::set<std::string> countries;
  for (const auto& u : comparison_->countries) countries.insert(u.country);
  EXPECT_EQ(countries, (std::set<std::string>{"CN", "JP", "MY", "SG"}));
  for (const auto& u : comparison_->countries) {
    // The close moves work from Singapore to the parent's pools in China.
    if (u.country == "SG") {
      EXPECT_LT(u.whatif, u.baseline);
    } else if (u.country == "CN") {
      EXPECT_GT(u.whatif, u.baseline);
    } else if (u.country == "JP") {
      EXPECT_DOUBLE_EQ(u.whatif, u.baseline);  // bellhollow is untouched
    }
  }
}

TEST_F(CompareTest, ASecondCompareWritesTheSameBytes) {
  const fs::path again = scenarios_->dir.path() / "again";
  auto c = compare_scenarios(scenarios_->baseline, scenarios_->whatif, again, {});
  ASSERT_TRUE(c) << c.error().to_string();
  for (const char* f : {"compare.json", "compare.html", "baseline/jobs.csv", "whatif/jobs.csv"}) {
    EXPECT_EQ(read_file(again / f), read_file(out_ / f)) << f;
  }
  EXPECT_EQ(comparison_json(*c), read_file(out_ / "compare.json"));
}

TEST_F(CompareTest, ThePageIsSelfContainedAndHoldsEveryChart) {
  const std::string html = read_file(out_ / "compare.html");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  // No external reference: every url() points inside the page (clip paths).
  for (auto at = html.find("url("); at != std::string::npos; at = html.find("url(", at + 1)) {
    EXPECT_EQ(html.compare(at, 5, "url(#"), 0) << html.substr(at, 40);
  }
  // and no address but the SVG namespace's.
  const std::string svg_namespace = "xmlns=\"http://www.w3.org/2000/svg\"";
  for (auto at = html.find("http"); at != std::string::npos; at = html.find("http", at + 1)) {
    EXPECT_EQ(html.compare(at - 7, svg_namespace.size(), svg_namespace), 0)
        << html.substr(at - 7, 40);
  }
  for (const char* chart :
       {"m-mean_jct_hours", "m-p95_jct_hours", "m-mean_queue_hours", "m-total_cost",
        "m-gpu_hours_lost", "cdf-jct", "cdf-queue", "util-country", "team-finish", "team-p95"}) {
    EXPECT_NE(html.find(std::string("data-chart=\"") + chart + "\""), std::string::npos) << chart;
  }
  // The CDFs hold one series per run.
  const auto cdf = html.find("data-chart=\"cdf-jct\"");
  EXPECT_NE(html.find("data-series=\"2\"", cdf), std::string::npos);
  // compare.json lists what the page does.
  const std::string json = read_file(out_ / "compare.json");
  EXPECT_NE(json.find("\"count\": " + std::to_string(comparison_->no_longer_run.size())),
            std::string::npos);
}

TEST_F(CompareTest, RunsOfDifferentJobsAreNotCompared) {
  const fs::path other = scenarios_->dir.path() / "other-seed";
  SimOptions options;
  options.seed = 8;  // another synthetic draw
  ASSERT_TRUE(run_simulation(scenarios_->baseline, options, other));
  auto c = compare_runs(out_ / "baseline", other);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(c.error().message().find("different jobs"), std::string::npos);
}

// The progress a server shows (issue 18): each run reports how far it is, from 0 to 1, as the
// simulator goes; a callback that answers false stops the comparison there.
TEST_F(CompareTest, ProgressIsReportedAndACallbackCancels) {
  std::vector<std::pair<int, double>> seen;
  CompareOptions options;
  options.on_progress = [&seen](int run, double done) {
    seen.emplace_back(run, done);
    return true;
  };
  ASSERT_TRUE(compare_scenarios(scenarios_->baseline, scenarios_->whatif,
                                scenarios_->dir.path() / "progress", options));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().first, 0);
  EXPECT_EQ(seen.back().first, 1);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].second, 0.0);
    EXPECT_LE(seen[i].second, 1.0);
    if (i > 0 && seen[i].first == seen[i - 1].first) {
      EXPECT_GE(seen[i].second, seen[i - 1].second);
    }
  }

  std::size_t calls = 0;
  options.on_progress = [&calls](int, double) { return ++calls < 2; };
  auto cancelled = compare_scenarios(scenarios_->baseline, scenarios_->whatif,
                                     scenarios_->dir.path() / "cancelled", options);
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(calls, 2u);
  EXPECT_NE(cancelled.error().message().find("cancelled"), std::string::npos);
}

TEST_F(CompareTest, ABrokenJobsFileIsRefusedWithItsPlace) {
  const fs::path copy = scenarios_->dir.path() / "broken";
  fs::create_directories(copy);
  fs::copy_file(out_ / "baseline" / "summary.json", copy / "summary.json");
  std::string jobs = read_file(out_ / "baseline" / "jobs.csv");
  // Row 3 (line 3): its cost, the 14th column, made unreadable.
  std::size_t line3 = jobs.find('\n', jobs.find('\n') + 1) + 1;
  std::size_t cost = line3;
  for (int comma = 0; comma < 13; ++comma) cost = jobs.find(',', cost) + 1;
  jobs.replace(cost, jobs.find(',', cost) - cost, "12x");
  std::ofstream(copy / "jobs.csv", std::ios::binary) << jobs;
  auto metrics = read_run_metrics(copy);
  ASSERT_FALSE(metrics);
  EXPECT_NE(metrics.error().to_string().find("jobs.csv:3: cost: bad value '12x'"),
            std::string::npos)
      << metrics.error().to_string();
  auto missing = read_run_metrics(scenarios_->dir.path() / "nowhere");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().to_string().find("nowhere/jobs.csv"), std::string::npos)
      << missing.error().to_string();
}

// ---------------------------------------------------------------------------
// Sweeps

TEST(SweepTest, KeysNameAPackParamByItsEnd) {
  Scenarios s;
  for (const char* vary : {"rules.close-remote-access.from=2026-01-02",
                           "rules.close-remote-access.close_from=2026-01-02",
                           "params.close_from=2026-01-02", "params.from=2026-01-02"}) {
    auto spec = parse_vary(s.whatif, vary);
    ASSERT_TRUE(spec) << vary << ": " << spec.error().to_string();
    EXPECT_EQ(spec->param, "close_from") << vary;
  }
}

TEST(SweepTest, ValuesFromRangesAndLists) {
  Scenarios s;
  auto labels = [&](const std::string& values) {
    auto spec = parse_vary(s.whatif, "params.close_from=" + values);
    EXPECT_TRUE(spec) << values << ": " << spec.error().to_string();
    return spec ? spec->labels : std::vector<std::string>{};
  };
  EXPECT_EQ(labels("2026-01-01..2027-01-01/quarterly"),
            (std::vector<std::string>{"2026-01-01", "2026-04-01", "2026-07-01", "2026-10-01",
                                      "2027-01-01"}));
  // Calendar months clamp to the month's end, counted from the first date.
  EXPECT_EQ(labels("2025-01-31..2025-05-01/monthly"),
            (std::vector<std::string>{"2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"}));
  EXPECT_EQ(labels("2024-02-29..2026-03-01/yearly"),
            (std::vector<std::string>{"2024-02-29", "2025-02-28", "2026-02-28"}));
  EXPECT_EQ(labels("2026-01-01..2026-01-20/weekly"),
            (std::vector<std::string>{"2026-01-01", "2026-01-08", "2026-01-15"}));
  EXPECT_EQ(labels("2026-01-01..2026-03-05/30d"),
            (std::vector<std::string>{"2026-01-01", "2026-01-31", "2026-03-02"}));
  EXPECT_EQ(
      labels("2026-01-01..2026-01-01T12:00:00Z/6h"),
      (std::vector<std::string>{"2026-01-01", "2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z"}));
  EXPECT_EQ(labels("2026-03-01, 2026-01-01"),
            (std::vector<std::string>{"2026-03-01", "2026-01-01"}));  // order kept
  EXPECT_EQ(labels("2026-01-01..2026-04-10/daily").size(), 100u);     // the most allowed
}

TEST(SweepTest, EveryVaryErrorSaysWhatIsWrong) {
  Scenarios s;
  const std::pair<const char*, const char*> cases[] = {
      {"close_from", "takes KEY=VALUES"},
      {"close_from=2026-01-01", "'close_from': KEY is params.NAME or rules.PACK.NAME"},
      {"rules.close-remote-acess.from=2026-01-01",
       "scenario closed has no rule pack 'close-remote-acess' (did you mean "
       "'close-remote-access'?) (its packs: default, close-remote-access)"},
      {"rules.close-remote-access=2026-01-01", "a rules key is rules.PACK.NAME"},
      {"rules.close-remote-access.frm=2026-01-01",
       "no param 'frm' in pack close-remote-access (did you mean 'from'?) (declared there: "
       "close_from)"},
      {"rules.default.from=2026-01-01", "no param 'from' in pack default (none is declared there)"},
      {"params.clse_from=2026-01-01",
       "no param 'clse_from' in the packs of scenario closed (did you mean 'close_from'?)"},
      {"params.close_from=2026-01-01..2026-03-01", "needs a step: FROM..TO/STEP"},
      {"params.close_from=2026-03-01..2026-01-01/monthly", "ends before it starts"},
      {"params.close_from=2026-01-01..2026-03-01/fortnightly",
       "unknown step 'fortnightly': daily, weekly, monthly, quarterly, yearly or a duration"},
      {"params.close_from=2026-01-01..2026-03-01/-2d", "the step '-2d' must be positive"},
      {"params.close_from=2026-01-01..2026-04-11/daily", "more than 100 values"},
      {"params.close_from=2026-02-30", "'2026-02-30': invalid date"},
      {"params.close_from=2026-01-01,2026-01-01", "'2026-01-01' is listed twice"},
      {"params.close_from=2026-01-01,", "an empty value"},
  };
  for (const auto& [vary, message] : cases) {
    auto spec = parse_vary(s.whatif, vary);
    ASSERT_FALSE(spec) << vary;
    EXPECT_EQ(spec.error().code(), ErrorCode::kInvalidArgument) << vary;
    const std::string text = spec.error().to_string();
    EXPECT_EQ(text.rfind("--vary: ", 0), 0u) << text;
    EXPECT_NE(text.find(message), std::string::npos) << vary << "\n  gave: " << text;
  }
}

TEST(SweepTest, AnAmbiguousNameListsTheParamsItCouldBe) {
  Scenarios s;
  Scenario both = s.whatif;
  both.rules.push_back(kSource / "rules" / "scenarios" / "malaysia-tightens");
  auto spec = parse_vary(both, "params.from=2026-01-01");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message().find("'from' is ambiguous in the packs of scenario closed: "
                                        "close_from, my_remote_from all end in '_from'"),
            std::string::npos)
      << spec.error().message();
  // Within one pack it is not.
  auto in_pack = parse_vary(both, "rules.malaysia-tightens.from=2026-01-01");
  ASSERT_TRUE(in_pack) << in_pack.error().to_string();
  EXPECT_EQ(in_pack->param, "my_remote_from");
}

TEST(SweepTest, EachRowIsADirectRunOfItsValueWhateverTheThreads) {
  Scenarios s;
  auto spec = parse_vary(s.whatif, "rules.close-remote-access.from=2026-01-01..2026-01-07/2d");
  ASSERT_TRUE(spec) << spec.error().to_string();
  ASSERT_EQ(spec->labels.size(), 4u);

  std::map<unsigned, fs::path> outs;
  for (unsigned threads : {1u, 2u}) {
    outs[threads] = s.dir.path() / ("sweep-" + std::to_string(threads));
    SweepOptions options;
    options.threads = threads;
    std::vector<std::size_t> seen;
    options.on_progress = [&](std::size_t done, std::size_t total) {
      EXPECT_EQ(total, 4u);
      seen.push_back(done);
    };
    auto sweep = run_sweep(s.whatif, *spec, outs[threads], options);
    ASSERT_TRUE(sweep) << sweep.error().to_string();
    EXPECT_EQ(seen, (std::vector<std::size_t>{1, 2, 3, 4}));
    ASSERT_EQ(sweep->rows.size(), 4u);
  }
  for (const char* f : {"sweep.csv", "sweep.json", "sweep.html"}) {
    EXPECT_EQ(read_file(outs[1] / f), read_file(outs[2] / f)) << f;
  }

  // One row per value, in order, each the figures of a direct run with that value.
  std::istringstream csv(read_file(outs[2] / "sweep.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("value,jobs,completed,running,pending,stopped,never,", 0), 0u) << line;
  std::set<std::string> distinct_rows;
  for (const auto& label : spec->labels) {
    Scenario direct = s.whatif;
    direct.params["close_from"] = label;
    const fs::path dir = s.dir.path() / ("direct-" + label);
    ASSERT_TRUE(run_simulation(direct, SimOptions{}, dir));
    for (const auto& [threads, out] : outs) {
      EXPECT_EQ(read_file(out / label / "jobs.csv"), read_file(dir / "jobs.csv"))
          << label << " with " << threads << " threads";
    }
    ASSERT_TRUE(std::getline(csv, line));
    const Figures f = figures_of(dir / "jobs.csv");
    std::ostringstream expected;
    expected << label << ",300," << f.state("completed") << "," << f.state("running") << ","
             << f.state("pending") << "," << f.state("stopped") << "," << f.state("never") << ",";
    EXPECT_EQ(line.rfind(expected.str(), 0), 0u) << line << "\n  expected " << expected.str();
    distinct_rows.insert(line.substr(line.find(',')));
  }
  EXPECT_FALSE(std::getline(csv, line));
  EXPECT_GT(distinct_rows.size(), 1u);  // the date matters
  const std::string html = read_file(outs[1] / "sweep.html");
  EXPECT_NE(html.find("data-chart=\"jct\""), std::string::npos);
  EXPECT_NE(html.find("data-points=\"4\""), std::string::npos);
}

}  // namespace
}  // namespace straits::sim
