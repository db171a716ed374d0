// The Slurm backend against a real Slurm: the cluster of the ctest fixture `slurm`
// (scripts/slurm-test-cluster.sh in STRAITS_TEST_SLURM_DIR: nodes h800-1, h800-2, h100-1,
// h100-2 with 8 fake GPUs each, SlurmdTimeout 10 s). SlurmText tests need no cluster.
//
// Every wait is a poll loop with a deadline; the tests hold the cluster alone (RESOURCE_LOCK
// slurm_cluster), cancel what they started and bring back what they broke.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/backend.h"
#include "exec/internal/slurm_text.h"
#include "exec/run_user.h"
#include "exec/slurm.h"
#include "support/wait_until.h"

namespace straits::exec {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kClusterDir = STRAITS_TEST_SLURM_DIR;
const std::string kClusterScript =
    std::string(STRAITS_SOURCE_DIR) + "/scripts/slurm-test-cluster.sh";
const std::string kSlurmConf = kClusterDir + "/etc/slurm.conf";

struct ShellResult {
  int status = -1;
  std::string out;  // stdout and stderr
};

// The test's own shell lines (fixed text and temporary paths only).
ShellResult shell(const std::string& line) {
  ShellResult result;
  FILE* pipe = ::popen((line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  result.status = ::pclose(pipe);
  return result;
}

ShellResult cluster(const std::string& arguments) {
  return shell(kClusterScript + " " + kClusterDir + " " + arguments);
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string describe(const RunStatus& status) {
  std::string text = std::string(to_string(status.state)) + " [" + status.detail + "]";
  if (status.exit_code) text += " exit " + std::to_string(*status.exit_code);
  if (status.signal) text += " signal " + std::to_string(*status.signal);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Without a cluster: what the backend writes and reads.

TEST(SlurmText, MapsEverySlurmJobState) {
  using slurm_internal::map_job_state;
  const std::vector<std::pair<std::string, RunState>> expected = {
      {"PENDING", RunState::kPending},       {"CONFIGURING", RunState::kPending},
      {"REQUEUED", RunState::kPending},      {"REQUEUE_FED", RunState::kPending},
      {"REQUEUE_HOLD", RunState::kPending},  {"RESV_DEL_HOLD", RunState::kPending},
      {"SPECIAL_EXIT", RunState::kPending},  {"POWER_UP_NODE", RunState::kPending},
      {"RUNNING", RunState::kRunning},       {"COMPLETING", RunState::kRunning},
      {"SUSPENDED", RunState::kRunning},     {"STOPPED", RunState::kRunning},
      {"SIGNALING", RunState::kRunning},     {"STAGE_OUT", RunState::kRunning},
      {"RESIZING", RunState::kRunning},      {"COMPLETED", RunState::kSucceeded},
      {"FAILED", RunState::kFailed},         {"OUT_OF_MEMORY", RunState::kFailed},
      {"CANCELLED", RunState::kCancelled},   {"TIMEOUT", RunState::kTimedOut},
      {"DEADLINE", RunState::kTimedOut},     {"NODE_FAIL", RunState::kNodeFailure},
      {"BOOT_FAIL", RunState::kNodeFailure}, {"PREEMPTED", RunState::kNodeFailure},
      {"REVOKED", RunState::kLost},
  };
  for (const auto& [name, state] : expected) {
    EXPECT_EQ(map_job_state(name), state) << name;
  }
  EXPECT_EQ(map_job_state("SOMETHING_NEW"), std::nullopt);
  // An unknown state is taken as not ended, and says so.
  const RunStatus unknown =
      slurm_internal::to_run_status({"5", "SOMETHING_NEW", {}, {}, "", ""}, false);
  EXPECT_EQ(unknown.state, RunState::kRunning);
  EXPECT_NE(unknown.detail.find("does not know"), std::string::npos) << unknown.detail;
}

TEST(SlurmText, ReadsSqueueLinesWithWaitStatuses) {
  const auto rows = slurm_internal::parse_squeue(
      "12|FAILED|768|h800-1|NonZeroExitCode|\n"
      "13|CANCELLED|15|h800-[1-2]|None|\n"
      "14|PENDING|0||Resources|\n"
      "15|COMPLETED|0|h100-1|None|\n"
      "16|NODE_FAIL|0|h100-2|NodeDown|\n"
      "17|FAILED|9|h800-1|JobLaunchFailure|\n"
      "18|PENDING|4294967294||ReqNodeNotAvail, UnavailableNodes:h800-[1-2]|\n");
  ASSERT_TRUE(rows) << rows.error().to_string();
  ASSERT_EQ(rows->size(), 7u);

  const RunStatus failed = slurm_internal::to_run_status((*rows)[0], false);
  EXPECT_EQ(failed.state, RunState::kFailed);
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.signal, std::nullopt);
  EXPECT_EQ(failed.detail, "Slurm state FAILED on h800-1 (NonZeroExitCode)");

  const RunStatus cancelled = slurm_internal::to_run_status((*rows)[1], true);
  EXPECT_EQ(cancelled.state, RunState::kCancelled);
  EXPECT_EQ(cancelled.signal, 15);
  EXPECT_EQ(cancelled.exit_code, std::nullopt);
  EXPECT_EQ(cancelled.detail, "Slurm state CANCELLED on h800-[1-2], stopped by straits");
  EXPECT_NE(slurm_internal::to_run_status((*rows)[1], false).detail.find("not stopped through"),
            std::string::npos);

  const RunStatus pending = slurm_internal::to_run_status((*rows)[2], false);
  EXPECT_EQ(pending.state, RunState::kPending);
  EXPECT_EQ(pending.exit_code, std::nullopt);
  EXPECT_EQ(pending.detail, "Slurm state PENDING (Resources)");

  const RunStatus succeeded = slurm_internal::to_run_status((*rows)[3], false);
  EXPECT_EQ(succeeded.state, RunState::kSucceeded);
  EXPECT_EQ(succeeded.exit_code, 0);

  const RunStatus node_failure = slurm_internal::to_run_status((*rows)[4], false);
  EXPECT_EQ(node_failure.state, RunState::kNodeFailure);
  EXPECT_EQ(node_failure.exit_code, std::nullopt);
  EXPECT_EQ(node_failure.detail, "Slurm state NODE_FAIL on h100-2 (NodeDown)");

  const RunStatus killed = slurm_internal::to_run_status((*rows)[5], false);
  EXPECT_EQ(killed.state, RunState::kFailed);
  EXPECT_EQ(killed.signal, 9);
  EXPECT_EQ(killed.exit_code, std::nullopt);

  EXPECT_EQ((*rows)[6].reason, "ReqNodeNotAvail, UnavailableNodes:h800-[1-2]");
  EXPECT_EQ((*rows)[6].exit_code, std::nullopt);  // NO_VAL

  EXPECT_FALSE(slurm_internal::parse_squeue("garbage without fields\n"));
}

TEST(SlurmText, ReadsSacctLines) {
  const auto rows = slurm_internal::parse_sacct(
      "21|CANCELLED by 0|0:15|h800-1|None\n"
      "22|FAILED|3:0|h100-1|NonZeroExitCode\n"
      "23|PENDING|0:0|None assigned|Resources\n");
  ASSERT_TRUE(rows) << rows.error().to_string();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].state, "CANCELLED");
  EXPECT_EQ((*rows)[0].signal, 15);
  EXPECT_EQ((*rows)[1].exit_code, 3);
  EXPECT_EQ((*rows)[2].nodes, "");
  EXPECT_EQ((*rows)[2].reason, "Resources");
}

TEST(SlurmText, TimeLimitsRoundUpToWholeMinutes) {
  using slurm_internal::time_limit_minutes;
  EXPECT_EQ(time_limit_minutes(Duration::seconds(0)), 1);  // 0 would be "no limit"
  EXPECT_EQ(time_limit_minutes(Duration::seconds(1)), 1);
  EXPECT_EQ(time_limit_minutes(Duration::seconds(60)), 1);
  EXPECT_EQ(time_limit_minutes(Duration::seconds(61)), 2);
  EXPECT_EQ(time_limit_minutes(Duration::seconds(90)), 2);
  EXPECT_EQ(time_limit_minutes(Duration::hours(2)), 120);
}

TEST(SlurmText, SbatchArguments) {
  LaunchSpec spec;
  spec.job_id = "j-00000003";
  spec.attempt = 2;
  spec.nodes = 2;
  spec.gpus_per_node = 8;
  spec.gpus = 16;
  spec.gpu_type = "h100";
  spec.work_dir = "/runs/100%/j-3";
  spec.time_limit = Duration::seconds(3601);
  SlurmOptions options;
  options.partition = "gpu";
  options.account = "lab";
  const std::vector<std::string> expected = {
      "sbatch",
      "--parsable",
      "--job-name=straits-j-00000003-2",
      "--nodes=2",
      "--ntasks=2",
      "--gres=gpu:h100:8",
      "--chdir=/runs/100%/j-3",
      "--output=/runs/100%%/j-3/output.log",
      "--error=/runs/100%%/j-3/output.log",
      "--open-mode=append",
      "--no-requeue",
      // The allow-list's names only: sbatch forwards nothing else of its environment.
      "--export=HOME,LANG,PATH,STRAITS_ATTEMPT,STRAITS_CHECKPOINT_DIR,STRAITS_GPUS,STRAITS_JOB_ID,"
      "STRAITS_RESUME_FROM,TZ",
      "--time=61",
      "--partition=gpu",
      "--account=lab",
      "/scripts/s.sh",
  };
  EXPECT_EQ(slurm_internal::sbatch_argv(spec, options, "/scripts/s.sh"), expected);

  spec.partition = "h100";  // the run's own partition wins
  spec.time_limit.reset();
  spec.gpu_type.clear();
  const auto argv = slurm_internal::sbatch_argv(spec, options, "/scripts/s.sh");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--partition=h100"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--gres=gpu:8"), argv.end());
  EXPECT_EQ(std::find_if(argv.begin(), argv.end(),
                         [](const std::string& a) { return a.rfind("--time", 0) == 0; }),
            argv.end());
}

TEST(SlurmText, RefusesSpecsSbatchCannotTakeSafely) {
  LaunchSpec good;
  good.job_id = "j-1";
  good.work_dir = "/tmp/w";
  good.checkpoint_dir = "/tmp/c";
  EXPECT_TRUE(slurm_internal::check_spec(good));
  auto with = [&](const std::function<void(LaunchSpec&)>& change) {
    LaunchSpec spec = good;
    change(spec);
    return slurm_internal::check_spec(spec);
  };
  EXPECT_FALSE(with([](LaunchSpec& s) { s.job_id = "j 1"; }));
  EXPECT_FALSE(with([](LaunchSpec& s) { s.job_id = "j,1"; }));
  EXPECT_FALSE(with([](LaunchSpec& s) { s.job_id = ".."; }));  // a path, were it one
  EXPECT_FALSE(with([](LaunchSpec& s) { s.job_id = "-j"; }));  // an option, were it one
  EXPECT_FALSE(with([](LaunchSpec& s) { s.gpu_type = "h100:2"; }));
  EXPECT_FALSE(with([](LaunchSpec& s) { s.nodes = 0; }));
  EXPECT_FALSE(with([](LaunchSpec& s) { s.attempt = 0; }));
  EXPECT_FALSE(with([](LaunchSpec& s) { s.env = {{"NOT-A-NAME", "x"}}; }));
  EXPECT_FALSE(with([](LaunchSpec& s) { s.command = std::string("a\0b", 3); }));
  const Status refused = with([](LaunchSpec& s) { s.env = {{"1X", "x"}}; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
}

// The batch script run by /bin/sh here, without Slurm: every value arrives as it was.
TEST(SlurmText, BatchScriptPassesValuesAndCommandUnchanged) {
  char pattern[] = "/tmp/straits-slurm-text-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const fs::path dir = pattern;
  const std::string tricky = "it's \"quoted\" $HOME `id` \\ 'x'\nsecond line *";
  LaunchSpec spec;
  spec.job_id = "j-7";
  spec.attempt = 3;
  spec.gpus = 4;
  spec.work_dir = dir / "work dir 'x'";
  spec.checkpoint_dir = dir / "ckpt $HOME";
  spec.resume_from = tricky;
  spec.env = {{"TRICKY", tricky}, {"STRAITS_GPUS", "not this"}};
  spec.command =
      "printf '%s' \"$TRICKY\" > tricky; printf '%s' \"$STRAITS_RESUME_FROM\" > resume; "
      "printf '%s|%s|%s|%s' \"$STRAITS_JOB_ID\" \"$STRAITS_ATTEMPT\" \"$STRAITS_GPUS\" "
      "\"$STRAITS_CHECKPOINT_DIR\" > ids; pwd > where";
  fs::create_directories(spec.work_dir);
  write_file(dir / "job.sh", slurm_internal::batch_script(spec));
  const ShellResult run = shell("/bin/sh " + (dir / "job.sh").string());
  EXPECT_EQ(run.status, 0) << run.out;
  EXPECT_EQ(read_file(spec.work_dir / "tricky"), tricky);
  EXPECT_EQ(read_file(spec.work_dir / "resume"), tricky);
  EXPECT_EQ(read_file(spec.work_dir / "ids"), "j-7|3|4|" + spec.checkpoint_dir.string());
  EXPECT_EQ(read_file(spec.work_dir / "where"), spec.work_dir.string() + "\n");
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Against the cluster.

class SlurmBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("SLURM_CONF", kSlurmConf.c_str(), 1); }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(kSlurmConf))
        << "no test cluster in " << kClusterDir << ": run the tests through ctest (fixture "
        << "slurm) or start it with " << kClusterScript << " " << kClusterDir << " up";
    char pattern[] = "/tmp/straits-slurm-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    SlurmOptions options;
    options.script_dir = dir_ / "scripts";
    options.command_timeout = Duration::seconds(20);
    backend_ = make_slurm_backend(options);
  }

  void TearDown() override {
    for (const auto& handle : launched_) (void)backend_->stop(handle, Duration::seconds(1));
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A run of 1 h800 GPU named after the test, in its own work and checkpoint folders.
  LaunchSpec spec(const std::string& command) {
    static int counter = 0;
    LaunchSpec spec;
    spec.job_id = "t" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    spec.attempt = 1;
    spec.command = command;
    spec.work_dir = dir_ / spec.job_id;
    spec.checkpoint_dir = dir_ / spec.job_id / "ckpt";
    spec.gpus = 1;
    spec.gpus_per_node = 1;
    spec.gpu_type = "h800";
    return spec;
  }

  std::string launch(const LaunchSpec& spec) {
    auto handle = backend_->launch(spec);
    EXPECT_TRUE(handle) << handle.error().to_string();
    if (!handle) return "";
    launched_.push_back(*handle);
    return *handle;
  }

  // Polls every 200 ms until `done` holds or `limit` passes; the last status.
  RunStatus wait_for_status(const std::string& handle,
                            const std::function<bool(const RunStatus&)>& done,
                            std::chrono::seconds limit) {
    RunStatus last;
    const bool held = straits::testing::wait_until(
        [&] {
          auto statuses = backend_->poll({handle});
          if (!statuses) return false;
          last = (*statuses)[handle];
          return done(last);
        },
        limit, 200ms);
    if (!held) {
      ADD_FAILURE() << "job " << handle << " still " << describe(last) << " after " << limit.count()
                    << " s";
    }
    return last;
  }
  RunStatus wait_final(const std::string& handle, std::chrono::seconds limit = 30s) {
    return wait_for_status(
        handle, [](const RunStatus& s) { return is_final(s.state); }, limit);
  }
  RunStatus wait_running(const std::string& handle) {
    return wait_for_status(
        handle, [](const RunStatus& s) { return s.state != RunState::kPending; }, 30s);
  }
  // Until the output holds `text` (a job's own sign of progress).
  bool wait_output(const fs::path& work_dir, const std::string& text,
                   std::chrono::seconds limit = 20s) {
    return straits::testing::wait_until(
        [&] { return read_output(work_dir, 0, 1 << 20).find(text) != std::string::npos; }, limit,
        100ms);
  }

  fs::path dir_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::string> launched_;
};

TEST_F(SlurmBackendTest, OneNodeOfEightGpusSeesItsEnvironmentAndSucceeds) {
  LaunchSpec s = spec(
      "echo \"job=$STRAITS_JOB_ID attempt=$STRAITS_ATTEMPT gpus=$STRAITS_GPUS\"; "
      "echo \"cvd=$CUDA_VISIBLE_DEVICES\"; echo \"ckpt=$STRAITS_CHECKPOINT_DIR\"; "
      "echo \"resume=$STRAITS_RESUME_FROM\"; printf 'tricky=%s|\\n' \"$TRICKY\"; "
      "echo \"pwd=$(pwd)\"; echo to-stderr >&2");
  s.gpus = 8;
  s.gpus_per_node = 8;
  s.attempt = 2;
  s.resume_from = "/ckpt/step 20";
  s.env = {{"TRICKY", "it's a \"$HOME\""}};
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  EXPECT_TRUE(fs::is_directory(s.checkpoint_dir));
  const RunStatus status = wait_final(handle);
  EXPECT_EQ(status.state, RunState::kSucceeded) << describe(status);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.detail.find("COMPLETED on h800-"), std::string::npos) << status.detail;

  const std::string output = read_output(s.work_dir, 0, 1 << 20);
  EXPECT_NE(output.find("job=" + s.job_id + " attempt=2 gpus=8\n"), std::string::npos) << output;
  EXPECT_NE(output.find("cvd=0,1,2,3,4,5,6,7\n"), std::string::npos) << output;
  EXPECT_NE(output.find("ckpt=" + s.checkpoint_dir.string() + "\n"), std::string::npos) << output;
  EXPECT_NE(output.find("resume=/ckpt/step 20\n"), std::string::npos) << output;
  EXPECT_NE(output.find("tricky=it's a \"$HOME\"|\n"), std::string::npos) << output;
  EXPECT_NE(output.find("pwd=" + s.work_dir.string() + "\n"), std::string::npos) << output;
  EXPECT_NE(output.find("to-stderr\n"), std::string::npos) << output;
}

// As root, the run executes as the run user (sbatch --uid/--gid) and sees the allow-list of
// backend.h, never the agent's environment (sbatch --export with the allowed names only).
TEST_F(SlurmBackendTest, RunsAsTheRunUserWithoutTheAgentsEnvironment) {
  if (::geteuid() != 0) GTEST_SKIP() << "runs as another user: needs root (CI is)";
  auto user = ensure_run_user(std::string(kDefaultRunUser));
  ASSERT_TRUE(user) << user.error().to_string();
  fs::permissions(dir_, fs::perms(0711));  // mkdtemp's 0700: runs pass through to their folder
  ::setenv("STRAITS_TEST_AGENT_SECRET", "agent-only", 1);
  LaunchSpec s = spec(
      "echo \"uid=$(id -u) gid=$(id -g)\"; echo \"home=$HOME\"; echo \"path=$PATH\"; "
      "echo \"secret=[$STRAITS_TEST_AGENT_SECRET]\"; echo \"job=$STRAITS_JOB_ID\"; "
      "echo \"names: $(env | cut -d= -f1 | grep -v '^SLURM' | sort | tr '\\n' ' ')\"");
  s.checkpoint_dir = dir_ / "checkpoints" / s.job_id;
  s.run_as = *user;
  const std::string handle = launch(s);
  ::unsetenv("STRAITS_TEST_AGENT_SECRET");
  ASSERT_FALSE(handle.empty());
  const RunStatus status = wait_final(handle, 60s);
  const std::string output = read_output(s.work_dir, 0, 1 << 20);
  EXPECT_EQ(status.state, RunState::kSucceeded) << describe(status) << "\n" << output;
  EXPECT_NE(
      output.find("uid=" + std::to_string(user->uid) + " gid=" + std::to_string(user->gid) + "\n"),
      std::string::npos)
      << output;
  EXPECT_NE(output.find("home=" + s.work_dir.string() + "\n"), std::string::npos) << output;
  EXPECT_NE(output.find("path=/usr/local/bin:/usr/bin:/bin\n"), std::string::npos) << output;
  EXPECT_NE(output.find("secret=[]\n"), std::string::npos) << output;
  EXPECT_NE(output.find("job=" + s.job_id + "\n"), std::string::npos) << output;
  EXPECT_EQ(output.find("STRAITS_TEST_AGENT_SECRET"), std::string::npos) << output;
  // The run's folders are the run user's alone.
  for (const fs::path& folder : {s.work_dir, s.checkpoint_dir}) {
    struct stat info {};
    ASSERT_EQ(::stat(folder.c_str(), &info), 0) << folder;
    EXPECT_EQ(info.st_uid, user->uid) << folder;
    EXPECT_EQ(info.st_mode & 07777, 0700u) << folder;
  }
}

TEST_F(SlurmBackendTest, SixteenGpusOverTwoNodes) {
  LaunchSpec s = spec(
      "srun sh -c 'echo \"task $SLURMD_NODENAME $CUDA_VISIBLE_DEVICES\"'; "
      "echo \"gpus=$STRAITS_GPUS nodes=$SLURM_JOB_NUM_NODES\"");
  s.gpu_type = "h100";
  s.nodes = 2;
  s.gpus_per_node = 8;
  s.gpus = 16;
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  const RunStatus status = wait_final(handle);
  EXPECT_EQ(status.state, RunState::kSucceeded) << describe(status);
  EXPECT_NE(status.detail.find("h100-[1-2]"), std::string::npos) << status.detail;
  const std::string output = read_output(s.work_dir, 0, 1 << 20);
  EXPECT_NE(output.find("task h100-1 0,1,2,3,4,5,6,7\n"), std::string::npos) << output;
  EXPECT_NE(output.find("task h100-2 0,1,2,3,4,5,6,7\n"), std::string::npos) << output;
  EXPECT_NE(output.find("gpus=16 nodes=2\n"), std::string::npos) << output;
}

TEST_F(SlurmBackendTest, NonZeroExitFailsWithItsCode) {
  LaunchSpec s = spec("echo about to fail; exit 3");
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  const RunStatus status = wait_final(handle);
  EXPECT_EQ(status.state, RunState::kFailed) << describe(status);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.signal, std::nullopt);
  EXPECT_NE(status.detail.find("FAILED"), std::string::npos) << status.detail;
  EXPECT_EQ(output_tail(s.work_dir, 100), "about to fail\n");
}

TEST_F(SlurmBackendTest, SbatchRefusalsAreErrorsNamingTheRequest) {
  LaunchSpec unknown_type = spec("true");
  unknown_type.gpu_type = "a100";
  unknown_type.gpus_per_node = 8;
  const auto refused = backend_->launch(unknown_type);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message().find("gpu:a100:8"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("Requested node configuration is not available"),
            std::string::npos)
      << refused.error().message();

  LaunchSpec too_many = spec("true");
  too_many.gpus_per_node = 9;
  const auto also_refused = backend_->launch(too_many);
  ASSERT_FALSE(also_refused);
  EXPECT_NE(also_refused.error().message().find("gpu:h800:9"), std::string::npos)
      << also_refused.error().message();

  LaunchSpec no_partition = spec("true");
  no_partition.partition = "nope";
  const auto bad_partition = backend_->launch(no_partition);
  ASSERT_FALSE(bad_partition);
  EXPECT_NE(bad_partition.error().message().find("partition"), std::string::npos)
      << bad_partition.error().message();
}

TEST_F(SlurmBackendTest, StopCancels) {
  LaunchSpec s = spec("echo started; sleep 300");
  const auto submitted = SteadyClock::now();
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  ASSERT_EQ(wait_running(handle).state, RunState::kRunning);
  std::cout << "submit to running: " << seconds_since(submitted) << " s\n";
  ASSERT_TRUE(wait_output(s.work_dir, "started"));
  const auto start = SteadyClock::now();
  ASSERT_TRUE(backend_->stop(handle, Duration::seconds(5)));
  const RunStatus status = wait_final(handle);
  std::cout << "stop to " << to_string(status.state) << ": " << seconds_since(start) << " s\n";
  EXPECT_EQ(status.state, RunState::kCancelled) << describe(status);
  EXPECT_NE(status.detail.find("stopped by straits"), std::string::npos) << status.detail;
  EXPECT_TRUE(backend_->stop(handle, Duration::seconds(5)));  // over already: nothing to do
}

// SIGUSR1 reaches a program that handles it even when it is not the job's top process (a
// pipeline here), and the shells of the command survive it.
TEST_F(SlurmBackendTest, CheckpointRequestReachesTheProgramAndSparesTheShells) {
  LaunchSpec s = spec("perl ./train.pl | cat; echo \"shell survived, pipeline $?\"");
  write_file(s.work_dir / "train.pl", R"PERL(
$| = 1;
my $asked = 0;
$SIG{USR1} = sub { $asked = 1; };
print "ready\n";
for my $i (1 .. 600) {
  if ($asked) {
    my $dir = $ENV{STRAITS_CHECKPOINT_DIR};
    mkdir "$dir/step-7";
    open(my $f, '>', "$dir/latest.tmp") or die;
    print $f "$dir/step-7 step=7\n";
    close $f;
    rename "$dir/latest.tmp", "$dir/latest" or die;
    print "checkpointed\n";
    exit 0;
  }
  select(undef, undef, undef, 0.1);
}
exit 1;
)PERL");
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  ASSERT_TRUE(wait_output(s.work_dir, "ready\n")) << read_output(s.work_dir, 0, 4096);
  EXPECT_EQ(read_latest_checkpoint(s.checkpoint_dir).value_or(std::nullopt), std::nullopt);
  const auto start = SteadyClock::now();
  const Status asked = backend_->request_checkpoint(handle);
  ASSERT_TRUE(asked) << asked.error().to_string();
  const RunStatus status = wait_final(handle);
  std::cout << "checkpoint request to job end: " << seconds_since(start) << " s\n";
  EXPECT_EQ(status.state, RunState::kSucceeded) << describe(status);
  const std::string output = read_output(s.work_dir, 0, 1 << 20);
  EXPECT_NE(output.find("checkpointed\nshell survived, pipeline 0\n"), std::string::npos) << output;
  const auto checkpoint = read_latest_checkpoint(s.checkpoint_dir);
  ASSERT_TRUE(checkpoint) << checkpoint.error().to_string();
  ASSERT_TRUE(checkpoint->has_value());
  EXPECT_EQ((*checkpoint)->path, (s.checkpoint_dir / "step-7").string());
  EXPECT_EQ((*checkpoint)->note, "step=7");
}

// A job whose shell traps SIGUSR1 itself is not killed by a checkpoint request (the trap
// cannot fire: the signal is ignored on entry) and goes on to end as it would.
TEST_F(SlurmBackendTest, CheckpointRequestDoesNotKillAShellJob) {
  LaunchSpec s = spec(
      "trap 'echo got-usr1' USR1; echo looping; while [ ! -e stop ]; do sleep 0.1; done; "
      "echo stopped looping");
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  ASSERT_TRUE(wait_output(s.work_dir, "looping\n"));
  ASSERT_TRUE(backend_->request_checkpoint(handle));
  std::this_thread::sleep_for(500ms);
  auto statuses = backend_->poll({handle});
  ASSERT_TRUE(statuses) << statuses.error().to_string();
  EXPECT_EQ((*statuses)[handle].state, RunState::kRunning) << describe((*statuses)[handle]);
  write_file(s.work_dir / "stop", "");
  const RunStatus status = wait_final(handle);
  EXPECT_EQ(status.state, RunState::kSucceeded) << describe(status);
  EXPECT_NE(read_output(s.work_dir, 0, 4096).find("stopped looping"), std::string::npos);
}

TEST_F(SlurmBackendTest, FindsARunByJobAndAttempt) {
  LaunchSpec s = spec("sleep 300");
  s.attempt = 4;
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  wait_running(handle);
  const auto found = backend_->find(s.job_id, 4, s.work_dir);
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(*found, handle);
  const auto other_attempt = backend_->find(s.job_id, 5, s.work_dir);
  ASSERT_TRUE(other_attempt);
  EXPECT_EQ(*other_attempt, std::nullopt);
  const auto other_job = backend_->find(s.job_id + "x", 4, s.work_dir);
  ASSERT_TRUE(other_job);
  EXPECT_EQ(*other_job, std::nullopt);
  // An attempt that already ended is still found (while slurmctld keeps it): an agent that
  // died after sbatch never submits it twice.
  ASSERT_TRUE(backend_->stop(handle, Duration::seconds(1)));
  wait_final(handle);
  const auto ended = backend_->find(s.job_id, 4, s.work_dir);
  ASSERT_TRUE(ended);
  EXPECT_EQ(*ended, handle);
  // The same job and attempt in another folder: another control plane's.
  const auto elsewhere = backend_->find(s.job_id, 4, s.work_dir / "other");
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(*elsewhere, std::nullopt);
  EXPECT_FALSE(backend_->find("no such id", 1, s.work_dir));  // not a name straits gives
}

// One squeue for every handle of a poll: counted by a squeue on PATH that notes its calls.
TEST_F(SlurmBackendTest, PollAsksOneSqueueForManyRuns) {
  const fs::path bin = dir_ / "bin";
  const std::string real_squeue = shell("command -v squeue").out;
  ASSERT_FALSE(real_squeue.empty());
  for (const std::string tool : {"squeue", "sacct", "scontrol"}) {
    const std::string real = shell("command -v " + tool).out;
    write_file(bin / tool, "#!/bin/sh\necho \"$*\" >> " + (dir_ / (tool + ".calls")).string() +
                               "\nexec " + real.substr(0, real.find('\n')) + " \"$@\"\n");
    fs::permissions(bin / tool, fs::perms::owner_all);
  }
  const std::string old_path = ::getenv("PATH");
  ::setenv("PATH", (bin.string() + ":" + old_path).c_str(), 1);
  auto calls = [&](const std::string& tool) {
    const std::string text = read_file(dir_ / (tool + ".calls"));
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  };

  std::vector<std::string> handles;
  std::vector<std::string> asked;
  for (int code = 0; code < 5; ++code) {
    handles.push_back(launch(spec("sleep 1; exit " + std::to_string(code))));
    ASSERT_FALSE(handles.back().empty());
    asked.push_back(handles.back());
  }
  asked.push_back("99999999");   // not a job of this cluster
  asked.push_back("not-a-job");  // not a job id at all
  asked.push_back(handles[0]);   // twice
  const auto deadline = SteadyClock::now() + 30s;
  std::map<std::string, RunStatus> statuses;
  int polls = 0;
  while (true) {
    const int before = calls("squeue");
    auto polled = backend_->poll(asked);
    ASSERT_TRUE(polled) << polled.error().to_string();
    ++polls;
    EXPECT_EQ(calls("squeue") - before, 1);
    statuses = *polled;
    ASSERT_EQ(statuses.size(), 7u);
    if (std::all_of(handles.begin(), handles.end(),
                    [&](const std::string& h) { return is_final(statuses[h].state); })) {
      break;
    }
    ASSERT_LT(SteadyClock::now(), deadline) << "jobs not ended after 30 s";
    std::this_thread::sleep_for(300ms);
  }
  ::setenv("PATH", old_path.c_str(), 1);
  std::cout << polls << " polls of " << asked.size() << " handles, " << calls("squeue")
            << " squeue, " << calls("sacct") << " sacct, " << calls("scontrol") << " scontrol\n";
  EXPECT_EQ(statuses[handles[0]].state, RunState::kSucceeded);
  for (int code = 1; code < 5; ++code) {
    EXPECT_EQ(statuses[handles[code]].state, RunState::kFailed) << code;
    EXPECT_EQ(statuses[handles[code]].exit_code, code);
  }
  EXPECT_EQ(statuses["99999999"].state, RunState::kLost);
  EXPECT_EQ(statuses["not-a-job"].state, RunState::kLost);
  // No accounting here: sacct is asked once, says so, and never again.
  EXPECT_EQ(calls("sacct"), 1);
  EXPECT_EQ(calls("scontrol"), 0);
}

TEST_F(SlurmBackendTest, WaitsPendingWhileTheGpusAreTaken) {
  LaunchSpec both = spec("sleep 300");
  both.nodes = 2;
  both.gpus_per_node = 8;
  both.gpus = 16;
  const std::string big = launch(both);
  ASSERT_FALSE(big.empty());
  ASSERT_EQ(wait_running(big).state, RunState::kRunning);

  LaunchSpec one = spec("echo should not run");
  one.gpus_per_node = 8;
  one.gpus = 8;
  const std::string waiting = launch(one);
  ASSERT_FALSE(waiting.empty());
  const RunStatus pending = wait_for_status(
      waiting, [](const RunStatus& s) { return s.detail.find("Resources") != std::string::npos; },
      10s);
  EXPECT_EQ(pending.state, RunState::kPending) << describe(pending);

  // Nothing to checkpoint yet: refused at once (scancel itself would retry until it starts).
  const auto start = SteadyClock::now();
  const Status asked = backend_->request_checkpoint(waiting);
  ASSERT_FALSE(asked);
  EXPECT_EQ(asked.error().code(), ErrorCode::kFailedPrecondition) << asked.error().to_string();
  EXPECT_LT(seconds_since(start), 5.0);

  ASSERT_TRUE(backend_->stop(waiting, Duration::seconds(1)));
  const RunStatus cancelled = wait_final(waiting);
  EXPECT_EQ(cancelled.state, RunState::kCancelled) << describe(cancelled);
  EXPECT_EQ(cancelled.exit_code, std::nullopt);
  EXPECT_EQ(read_output(one.work_dir, 0, 4096), "");
}

// slurmctld down: polls and submissions are Errors (unknown, not ended); back up, the run
// is still running and ends as it would.
TEST_F(SlurmBackendTest, ControllerRestartEndsNoRun) {
  LaunchSpec s = spec("echo looping; while [ ! -e stop ]; do sleep 0.2; done; echo done");
  s.gpu_type = "h100";
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  ASSERT_TRUE(wait_output(s.work_dir, "looping\n"));

  struct RestartController {
    ~RestartController() {
      const ShellResult started = cluster("start-ctld");
      EXPECT_EQ(started.status, 0) << started.out;
    }
  };
  {
    RestartController restart;
    const ShellResult stopped = cluster("stop-ctld");
    ASSERT_EQ(stopped.status, 0) << stopped.out;
    const auto start = SteadyClock::now();
    const auto polled = backend_->poll({handle});
    std::cout << "poll with slurmctld down: an Error after " << seconds_since(start) << " s\n";
    ASSERT_FALSE(polled);
    EXPECT_EQ(polled.error().code(), ErrorCode::kUnavailable) << polled.error().to_string();
    EXPECT_NE(polled.error().message().find("slurmctld"), std::string::npos);
    const auto launched = backend_->launch(spec("true"));
    ASSERT_FALSE(launched);
    EXPECT_EQ(launched.error().code(), ErrorCode::kUnavailable) << launched.error().to_string();
  }
  const RunStatus again = wait_for_status(
      handle, [](const RunStatus&) { return true; }, 20s);
  EXPECT_EQ(again.state, RunState::kRunning) << describe(again);
  write_file(s.work_dir / "stop", "");
  const RunStatus status = wait_final(handle);
  EXPECT_EQ(status.state, RunState::kSucceeded) << describe(status);
  EXPECT_NE(read_output(s.work_dir, 0, 4096).find("done\n"), std::string::npos);
}

// A node that crashes (slurmd, slurmstepd and the job's processes SIGKILLed): after
// SlurmdTimeout the run is a node failure; the node comes back for the other tests.
TEST_F(SlurmBackendTest, NodeCrashIsANodeFailure) {
  LaunchSpec s = spec("echo started; sleep 300");
  s.gpu_type = "h100";
  s.gpus_per_node = 8;
  s.gpus = 8;
  const std::string handle = launch(s);
  ASSERT_FALSE(handle.empty());
  ASSERT_TRUE(wait_output(s.work_dir, "started"));
  ShellResult where = shell("squeue -h -j " + handle + " -o %N");
  ASSERT_EQ(where.status, 0) << where.out;
  const std::string node = where.out.substr(0, where.out.find('\n'));
  ASSERT_TRUE(node == "h100-1" || node == "h100-2") << node;

  struct StartNode {
    std::string node;
    ~StartNode() {
      const ShellResult started = cluster("start-node " + node);
      EXPECT_EQ(started.status, 0) << started.out;
    }
  } start_node{node};
  const auto start = SteadyClock::now();
  const ShellResult killed = cluster("kill-node " + node);
  ASSERT_EQ(killed.status, 0) << killed.out;
  const RunStatus status = wait_final(handle, 60s);
  std::cout << "node crash to " << to_string(status.state) << ": " << seconds_since(start)
            << " s\n";
  EXPECT_EQ(status.state, RunState::kNodeFailure) << describe(status);
  EXPECT_NE(status.detail.find("NODE_FAIL on " + node), std::string::npos) << status.detail;
  EXPECT_EQ(status.exit_code, std::nullopt);
}

}  // namespace
}  // namespace straits::exec
