// Small simulations whose exact results are computed by hand, over the sim
// test catalog (tests/data/catalogs/sim: two pools of 2 nodes x 8 H100,
// the reference chip, so 8 GPUs do 8 reference GPU-hours an hour).
#include "sim/engine.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "policy/temp_dir.h"
#include "sim/verify.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

const fs::path kData(STRAITS_TEST_DATA_DIR);
const fs::path kSource(STRAITS_SOURCE_DIR);

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(p));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// Writes a scenario over the sim test catalog and runs it.
struct SimRun {
  TempDir dir{"sim"};
  fs::path out;
  SimSummary summary;

  SimRun(const std::string& policy, const std::string& leases, const std::string& jobs,
         const std::string& packs = "", const std::string& params = "") {
    std::string rules = "[" + (kData / "sim" / "rules" / "base").string() + packs + "]";
    dir.write("jobs.jsonl", jobs);
    dir.write("scenario.yaml", "name: test\ncatalog: " + (kData / "catalogs" / "sim").string() +
                                   "\nrules: " + rules + "\n" + params +
                                   "start: 2026-01-01\nhorizon: 2d\nseed: 1\nleases:\n" + leases +
                                   "workload: {file: jobs.jsonl}\n"
                                   "scheduler: {policy: " +
                                   policy +
                                   ", reference_chip: h100-sxm, restart_overhead: 10m, "
                                   "checkpoint_bandwidth_gbps: 5}\n");
    auto scenario = load_scenario(dir.path() / "scenario.yaml", kSource);
    if (!scenario) {
      ADD_FAILURE() << scenario.error().to_string();
      return;
    }
    out = dir.path() / "out";
    auto result = run_simulation(*scenario, SimOptions{}, out);
    if (!result) {
      ADD_FAILURE() << result.error().to_string();
      return;
    }
    summary = *result;
  }

  // "job pool start end end_reason" for each interval, in file order.
  std::vector<std::string> intervals() const {
    std::vector<std::string> out_rows;
    for (const auto& r : read_csv(out / "intervals.csv")) {
      out_rows.push_back(r[0] + " " + r[2] + " " + r[4] + " " + r[5] + " " + r[7] + " " + r[6]);
    }
    std::sort(out_rows.begin(), out_rows.end());
    return out_rows;
  }

  std::map<std::string, std::vector<std::string>> jobs() const {
    std::map<std::string, std::vector<std::string>> by_id;
    for (const auto& r : read_csv(out / "jobs.csv")) by_id[r[0]] = r;
    return by_id;
  }

  // moves.csv as written, without its header.
  std::string moves() const {
    std::string text = read_file(out / "moves.csv");
    EXPECT_EQ(text.substr(0, text.find('\n')),
              "job,org,team,pool,gpus,at,kind,reason,rule,lost_gpu_hours");
    return text.substr(text.find('\n') + 1);
  }
};

const char* kLeaseA =
    "  - {id: la, org: hanshan-sg, pool: sg-a-h100, gpus: 16, start: 2026-01-01, end: "
    "2026-02-01}\n";

// j1: 8 GPUs x 2 h; j2: 16 GPUs x 1 h (both nodes); j3: 8 GPUs x 1 h.
const char* kBackfillJobs =
    R"({"id":"j1","submit":0,"org":"hanshan-sg","gpus":8,"work":16,"checkpoint_interval":"0s"}
{"id":"j2","submit":1,"org":"hanshan-sg","gpus":16,"work":16,"checkpoint_interval":"0s"}
{"id":"j3","submit":2,"org":"hanshan-sg","gpus":8,"work":8,"checkpoint_interval":"0s"}
)";

TEST(SimulationTest, FifoKeepsArrivalOrder) {
  SimRun run("fifo", kLeaseA, kBackfillJobs);
  // j1 [0, 2h) on node 0. j2 needs both nodes: waits for j1, runs [2h, 3h).
  // j3 fits node 1 at 2 s but waits behind j2 under FIFO: [3h, 4h).
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "j1 sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T02:00:00Z completed 0:8",
                "j2 sg-a-h100 2026-01-01T02:00:00Z 2026-01-01T03:00:00Z completed 0:8;1:8",
                "j3 sg-a-h100 2026-01-01T03:00:00Z 2026-01-01T04:00:00Z completed 0:8",
            }));
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["j3"][9], "10798");   // queueing delay: 3 h - 2 s
  EXPECT_EQ(jobs["j3"][10], "14398");  // JCT: 4 h - 2 s
  EXPECT_EQ(run.summary.completed, 3u);
}

TEST(SimulationTest, EasyBackfillLetsShortJobsJumpWithoutDelayingTheHead) {
  SimRun run("easy-backfill", kLeaseA, kBackfillJobs);
  // The head j2 has a reservation at 2 h (when j1 ends). j3 fits node 1 at 2 s
  // and ends at 1 h 0 m 2 s, before the reservation: it starts at once.
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "j1 sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T02:00:00Z completed 0:8",
                "j2 sg-a-h100 2026-01-01T02:00:00Z 2026-01-01T03:00:00Z completed 0:8;1:8",
                "j3 sg-a-h100 2026-01-01T00:00:02Z 2026-01-01T01:00:02Z completed 1:8",
            }));
}

TEST(SimulationTest, AJobMovesBeforeItsLeaseEnds) {
  // Lease la (cheaper, 3.00) ends at 2 h; lease lb (5.00) lasts.
  std::string leases =
      "  - {id: la, org: hanshan-sg, pool: sg-a-h100, gpus: 8, start: 2026-01-01, "
      "end: 2026-01-01T02:00:00Z, price_per_gpu_hour: \"3.00 USD\"}\n"
      "  - {id: lb, org: hanshan-sg, pool: sg-b-h100, gpus: 8, start: 2026-01-01, end: "
      "2026-01-11}\n";
  // 8 GPUs x 4 h of work, a checkpoint every hour of it, of 300 GB: 60 s at 5 GB/s.
  SimRun run(
      "easy-backfill", leases,
      R"({"id":"m1","submit":0,"org":"hanshan-sg","gpus":8,"work":32,"checkpoint_interval":"1h","checkpoint_gb":300}
)");
  // On la from 0; checkpoint from 2h - 60 s, off at 2 h. By then it computed 1 h, wrote the
  // 1 h checkpoint (60 s) and computed 3480 s more: 8 x 7080 / 3600 = 15.7333 GPU-h; 16.2667
  // left = 7320 s on 8 GPUs, with 2 checkpoints on the way (120 s) and the 600 s restart:
  // ends 2 h + 8040 s.
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "m1 sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T02:00:00Z checkpointed 0:8",
                "m1 sg-b-h100 2026-01-01T02:00:00Z 2026-01-01T04:14:00Z completed 0:8",
            }));
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["m1"][7], "completed");
  EXPECT_EQ(jobs["m1"][11], "sg-a-h100;sg-b-h100");
  EXPECT_EQ(jobs["m1"][14], "1");         // checkpoints
  EXPECT_EQ(jobs["m1"][15], "1");         // moves
  EXPECT_EQ(jobs["m1"][16], "1.466667");  // 8 GPUs x (60 s + 600 s) lost
  // Cost: 8 x 2 h x 3.00 + 8 x (8040 / 3600) h x 5.00 = 48 + 89.33.
  EXPECT_EQ(jobs["m1"][13], "137.33");
  EXPECT_EQ(read_csv(run.out / "intervals.csv")[0][8], "48.00");  // each interval's cost
  EXPECT_NE(read_file(run.out / "summary.json").find("\"lease la ends\": 1"), std::string::npos);
  // The move, with what it lost (as in jobs.csv) and no rule: a lease end cut it.
  EXPECT_EQ(run.moves(),
            "m1,hanshan-sg,default,sg-a-h100,8,2026-01-01T02:00:00Z,moved,lease la ends,,"
            "1.466667\n");
}

TEST(SimulationTest, AJobStopsWhenARuleClosesTheOnlyPoolItMayUse) {
  std::string lease =
      "  - {id: la, org: hanshan-sg, pool: sg-a-h100, gpus: 16, start: 2026-01-01, end: "
      "2026-02-01}\n";
  std::string packs = ", " + (kData / "sim" / "rules" / "close-a").string();
  SimRun run(
      "easy-backfill", lease,
      R"({"id":"s1","submit":0,"org":"hanshan-sg","gpus":8,"work":16,"checkpoint_interval":"1h","checkpoint_gb":300}
{"id":"s2","submit":0,"org":"hanshan-sg","gpus":8,"work":16,"checkpoint_interval":"0s"}
)",
      packs, "params: {close_a_from: 2026-01-01T01:00:00Z}\n");
  // s1 can checkpoint: runs [0, 1 h), checkpointing from 1 h - 60 s, then is stopped.
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "s1 sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T01:00:00Z checkpointed 0:8"}));
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["s1"][7], "stopped");
  EXPECT_EQ(jobs["s1"][8], "denied at sg-a-h100: rule test.close-a forbids it");
  // s2 cannot checkpoint, so never starts where the rule would cut it; then it can run nowhere.
  EXPECT_EQ(jobs["s2"][7], "never");
  EXPECT_EQ(jobs["s2"][5], "");  // never started
  EXPECT_EQ(run.summary.stopped, 1u);
  EXPECT_EQ(run.summary.never, 1u);
  // The rule as data: it cut s1, then refused it (stopped) and s2 (never) everywhere.
  EXPECT_EQ(run.moves(),
            "s1,hanshan-sg,default,sg-a-h100,8,2026-01-01T01:00:00Z,moved,"
            "rule test.close-a forbids it,test.close-a,1.466667\n"
            "s1,hanshan-sg,default,sg-a-h100,8,2026-01-01T01:00:00Z,stopped,"
            "denied at sg-a-h100: rule test.close-a forbids it,test.close-a,0.000000\n");
  EXPECT_EQ(jobs["s1"][17], "test.close-a");
  EXPECT_EQ(jobs["s2"][17], "test.close-a");
  // The rule changes inside the window (test.record started in 2020: not listed).
  std::string run_json = read_file(run.out / "run.json");
  EXPECT_NE(run_json.find(R"("rule_changes": [
    {
      "at": "2026-01-01T01:00:00Z",
      "change": "starts",
      "pack": "close-a",
      "rule": "test.close-a",
      "title": "no runs on pool sg-a-h100"
    }
  ])"),
            std::string::npos)
      << run_json;
}

TEST(SimulationTest, ANodeFailureRestartsTheGangFromItsLastCheckpoint) {
  // 8 GPUs x 4 h of work, a checkpoint every hour; node 0 fails at 1 h 30 m.
  SimRun run(
      "easy-backfill", kLeaseA,
      R"({"id":"f1","submit":0,"org":"hanshan-sg","gpus":8,"work":32,"checkpoint_interval":"1h","checkpoint_gb":300}
)",
      "",
      "failures: {repair: 1h, inject: [{pool: sg-a-h100, node: 0, at: "
      "2026-01-01T01:30:00Z}]}\n");
  // The checkpoint after 1 h of work (written by 1 h 1 m) saved 8 GPU-hours: 24 remain, 3 h
  // on node 1 with 2 checkpoints (2 x 60 s) after a 10 min restart, from 1 h 30 m: ends at
  // 4 h 42 m. Lost: 8 GPUs x the 29 min since the checkpoint was written.
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "f1 sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T01:30:00Z failed 0:8",
                "f1 sg-a-h100 2026-01-01T01:30:00Z 2026-01-01T04:42:00Z completed 1:8",
            }));
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["f1"][7], "completed");
  EXPECT_EQ(jobs["f1"][16], "3.866667");
  EXPECT_EQ(run.moves(),
            "f1,hanshan-sg,default,sg-a-h100,8,2026-01-01T01:30:00Z,failed,"
            "node 0 of sg-a-h100 failed,,3.866667\n");
  EXPECT_NE(read_file(run.out / "summary.json").find("\"node_failures\": 1"), std::string::npos);
}

TEST(SimulationTest, AHigherPriorityJobPreemptsALowerOneOfItsOrg) {
  // One node leased. low (10 h of work, a checkpoint every hour of it, 60 s
  // to write) starts at 0; high (1 h, priority 5) arrives at 1 h.
  const std::string one_node =
      "  - {id: la, org: hanshan-sg, pool: sg-a-h100, gpus: 8, start: 2026-01-01, end: "
      "2026-02-01}\n";
  const std::string low_and_high =
      R"({"id":"low","submit":0,"org":"hanshan-sg","gpus":8,"work":80,"checkpoint_interval":"1h","checkpoint_gb":300}
{"id":"high","submit":3600,"org":"hanshan-sg","gpus":8,"work":8,"priority":5,"checkpoint_interval":"0s"}
)";
  SimRun run("priority-fair-share, preemption: true", one_node, low_and_high);
  // At 1 h low is preempted: it writes a checkpoint until 1 h 1 m, having done 1 h of work
  // (8 GPU-h; 72 left). high runs 1 h from 1 h 1 m. low restarts at 2 h 1 m: 600 s + 9 h of
  // work + 8 checkpoints (480 s): ends at 11 h 19 m.
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "high sg-a-h100 2026-01-01T01:01:00Z 2026-01-01T02:01:00Z completed 0:8",
                "low sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T01:01:00Z preempted 0:8",
                "low sg-a-h100 2026-01-01T02:01:00Z 2026-01-01T11:19:00Z completed 0:8",
            }));
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["low"][14], "1");         // checkpoints
  EXPECT_EQ(jobs["low"][15], "0");         // moves
  EXPECT_EQ(jobs["low"][16], "1.466667");  // 8 GPUs x (60 s + 600 s) lost
  EXPECT_EQ(run.moves(),
            "low,hanshan-sg,default,sg-a-h100,8,2026-01-01T01:01:00Z,preempted,"
            "preempted by high (priority 5 over 0),,1.466667\n");
  EXPECT_NE(read_file(run.out / "summary.json").find("\"preemptions\": 1"), std::string::npos);
  // Without preemption high waits for low to finish.
  SimRun patient("priority-fair-share", one_node, low_and_high);
  EXPECT_EQ(patient.jobs()["high"][5], "2026-01-01T10:09:00Z");  // 10 h + 9 checkpoints
}

TEST(SimulationTest, QuotasFromTheScenarioHoldTheOrgBack) {
  // Quota 8 GPUs: j2 (16) can never run; j3 waits for j1's GPUs to come back.
  SimRun run("priority-fair-share, shares: {hanshan-sg: 2}, quotas: {hanshan-sg: 8}", kLeaseA,
             kBackfillJobs);
  EXPECT_EQ(run.intervals(),
            (std::vector<std::string>{
                "j1 sg-a-h100 2026-01-01T00:00:00Z 2026-01-01T02:00:00Z completed 0:8",
                "j3 sg-a-h100 2026-01-01T02:00:00Z 2026-01-01T03:00:00Z completed 0:8",
            }));
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["j2"][7], "never");
  EXPECT_EQ(jobs["j2"][8], "org hanshan-sg holds 8 GPUs of its quota of 8");
}

TEST(SimulationTest, ATeamStopsStartingJobsAtItsBudget) {
  // Lease la has no price, so the list price 4.00 applies: j1 costs 8 x 2 h x 4 = 64,
  // j2 16 x 1 h x 4 = 64, j3 32. Budget 100: j1 starts; at 2 h, 64 spent + 64 > 100
  // keeps j2 out, and j3 waits behind it (FIFO).
  SimRun run("fifo, budgets: {hanshan-sg/default: \"100 USD\"}", kLeaseA, kBackfillJobs);
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["j1"][7], "completed");
  EXPECT_EQ(jobs["j2"][7], "pending");
  EXPECT_NE(jobs["j2"][8].find("past team default's budget (100.00 USD, 64 spent)"),
            std::string::npos)
      << jobs["j2"][8];
  EXPECT_EQ(jobs["j3"][7], "pending");
}

TEST(SimulationTest, ListPriceChangesAreBilledFromTheirInstant) {
  // solo owns sg-d-h100 (list 1.00); the price goes to 3.00 at 1 h. A 2 h run on 8 GPUs
  // costs 8 x (1 h x 1.00 + 1 h x 3.00) = 32.
  SimRun run("easy-backfill", "  []\n",
             R"({"id":"p1","submit":0,"org":"solo","gpus":8,"work":16,"checkpoint_interval":"0s"}
)",
             "", "prices: [{pool: sg-d-h100, at: 2026-01-01T01:00:00Z, price: \"3.00 USD\"}]\n");
  auto jobs = run.jobs();
  EXPECT_EQ(jobs["p1"][7], "completed");
  EXPECT_EQ(jobs["p1"][11], "sg-d-h100");
  EXPECT_EQ(jobs["p1"][13], "32.00");
  EXPECT_EQ(read_csv(run.out / "intervals.csv")[0][8], "32.00");
  EXPECT_EQ(run.moves(), "");  // completed in one go
}

TEST(SimulationTest, TheVerifierAcceptsEveryRunAbove) {
  SimRun fifo("fifo", kLeaseA, kBackfillJobs);
  auto report = verify_run(fifo.out);
  ASSERT_TRUE(report) << report.error().to_string();
  for (const auto& v : report->violations)
    ADD_FAILURE() << v.where << ": " << v.check << ": " << v.message;
  EXPECT_EQ(report->intervals, 3u);
}

TEST(SimulationTest, SameScenarioAndSeedGiveByteIdenticalOutputs) {
  TempDir dir("determinism");
  dir.write("scenario.yaml",
            "name: det\nstart: 2026-01-01\nhorizon: 20d\nseed: 7\n"
            "leases:\n"
            "  - {id: l1, org: hanshan-sg, pool: sg-tuas-1-h100, gpus: 256, start: 2026-01-01, "
            "end: 2026-01-10}\n"
            "  - {id: l2, org: bellhollow, pool: jp-tokyo-1-h100, gpus: 256, start: 2026-01-01, "
            "end: 2026-03-01}\n"
            "  - {id: l3, org: hanshan-sg, pool: my-sedenak-1-h200, gpus: 192, start: 2026-01-01, "
            "end: 2026-03-01}\n"
            "workload:\n  synthetic: {jobs: 400, load: 0.7, fleet_gpus: 700, max_gpus: 128, "
            "orgs: {hanshan-sg: 2, bellhollow: 1}}\n"
            "scheduler: {policy: easy-backfill}\n");
  auto scenario = load_scenario(dir.path() / "scenario.yaml", kSource);
  ASSERT_TRUE(scenario) << scenario.error().to_string();
  auto a = run_simulation(*scenario, SimOptions{}, dir.path() / "a");
  auto b = run_simulation(*scenario, SimOptions{}, dir.path() / "b");
  ASSERT_TRUE(a && b);
  EXPECT_GT(a->completed, 100u);
  for (const char* f : {"jobs.csv", "intervals.csv", "timeseries.csv", "summary.json",
                        "workload.jsonl", "moves.csv", "run.json"}) {
    EXPECT_EQ(read_file(dir.path() / "a" / f), read_file(dir.path() / "b" / f)) << f;
  }
  SimOptions other;
  other.seed = 8;
  auto c = run_simulation(*scenario, other, dir.path() / "c");
  ASSERT_TRUE(c);
  EXPECT_NE(read_file(dir.path() / "a" / "jobs.csv"), read_file(dir.path() / "c" / "jobs.csv"));
  auto report = verify_run(dir.path() / "a");
  ASSERT_TRUE(report) << report.error().to_string();
  for (const auto& v : report->violations)
    ADD_FAILURE() << v.where << ": " << v.check << ": " << v.message;
}

TEST(ScenarioTest, ReportsEveryProblemWithItsPlace) {
  TempDir dir("bad-scenario");
  dir.write("s.yaml",
            "name: bad\nstart: 2026-13-01\nhorizn: 2d\nleases:\n"
            "  - {id: l1, org: x, pool: y, gpus: 0, start: 2026-01-02, end: 2026-01-01}\n"
            "workload: {}\nscheduler: {policy: fifoo}\n");
  auto s = load_scenario(dir.path() / "s.yaml", kSource);
  ASSERT_FALSE(s);
  std::string text = s.error().to_string();
  for (const char* want :
       {"s.yaml:2:8: start: invalid date '2026-13-01': month out of range",
        "s.yaml:3:1: unknown scenario field 'horizn' (did you mean 'horizon'?)",
        "lease gpus must be greater than zero", "lease l1: end must be after start",
        "workload needs 'file', 'synthetic' or 'trace'",
        "unknown policy 'fifoo' (did you mean 'fifo'?)"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

}  // namespace
}  // namespace straits::sim
