// The local backend with real processes and real signals, and the example
// training program (straits-train) run through it. Waits poll with a
// deadline; no test sleeps longer than the behaviour it checks needs.
#include "exec/local.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/backend.h"
#include "exec/run_user.h"
#include "policy/temp_dir.h"
#include "support/wait_until.h"

namespace straits::exec {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing_util::TempDir;
using Clock = std::chrono::steady_clock;

const std::string kTrain = STRAITS_TRAIN_BINARY;

using straits::testing::wait_until;

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The pid a command wrote to `file` ("123\n"), once it is there; 0 if it never comes.
pid_t wait_for_pid(const fs::path& file) {
  pid_t pid = 0;
  wait_until(
      [&] {
        const std::string text = read_file(file);
        if (text.empty() || text.back() != '\n') return false;
        pid = static_cast<pid_t>(std::stol(text));
        return true;
      },
      5s);
  return pid;
}

// Gone, or a zombie that nobody has reaped yet (the PID 1 of a container may never reap the
// orphans it inherits).
bool process_gone(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= stat.size()) return true;
  const char state = stat[name_end + 2];
  return state == 'Z' || state == 'X';
}

// "final step=N result=HEX" of an output, "" when there is none.
std::string final_line(const std::string& output) {
  const std::size_t at = output.find("final step=");
  if (at == std::string::npos) return "";
  return output.substr(at, output.find('\n', at) - at);
}

class LocalBackendTest : public ::testing::Test {
 protected:
  LaunchSpec spec(const std::string& command, const std::string& name = "run") const {
    LaunchSpec spec;
    spec.job_id = "j-00000001";
    spec.attempt = 1;
    spec.command = command;
    spec.work_dir = dir_.path() / name / "work";
    spec.checkpoint_dir = dir_.path() / name / "ckpt";
    return spec;
  }

  std::string launch(const LaunchSpec& spec) {
    Result<std::string> handle = backend_->launch(spec);
    EXPECT_TRUE(handle) << handle.error().to_string();
    return handle ? *handle : "";
  }

  RunStatus status(const std::string& handle) {
    auto polled = backend_->poll({handle});
    EXPECT_TRUE(polled) << polled.error().to_string();
    return polled ? polled->at(handle) : RunStatus{};
  }

  // Polls until the run ends (or fails the test after `timeout`).
  RunStatus wait_end(const std::string& handle, std::chrono::milliseconds timeout = 10s) {
    RunStatus last;
    if (!wait_until(
            [&] {
              last = status(handle);
              return is_final(last.state);
            },
            timeout)) {
      ADD_FAILURE() << "run " << handle << " still " << to_string(last.state) << " after "
                    << timeout.count() << " ms";
    }
    return last;
  }

  RunStatus run_to_end(const LaunchSpec& spec) { return wait_end(launch(spec)); }

  static std::string output(const LaunchSpec& spec) {
    return read_output(spec.work_dir, 0, 1 << 20);
  }

  bool wait_for_output(const LaunchSpec& spec, const std::string& text) {
    return wait_until([&] { return output(spec).find(text) != std::string::npos; }, 5s);
  }

  TempDir dir_{"exec-local"};
  // Declared after dir_: its runs are stopped before the folder goes.
  std::unique_ptr<Backend> backend_ =
      make_local_backend(LocalOptions{.kill_grace = Duration::milliseconds(300)});
};

// The environment is an allow-list: never the agent's own (its token may be there).
TEST_F(LocalBackendTest, CommandSeesTheStraitsVariablesItsOwnAndNotTheAgents) {
  ::setenv("STRAITS_TEST_AGENT_SECRET", "agent-only", 1);
  LaunchSpec run = spec(
      "echo \"job=$STRAITS_JOB_ID attempt=$STRAITS_ATTEMPT gpus=$STRAITS_GPUS"
      " resume=[$STRAITS_RESUME_FROM] extra=[$EXTRA]\";"
      " echo \"ckpt=$STRAITS_CHECKPOINT_DIR\"; echo \"cwd=$(pwd -P)\"; echo \"home=$HOME\";"
      " echo \"secret=[$STRAITS_TEST_AGENT_SECRET]\";"
      " env | cut -d= -f1 | grep -vxE 'PWD|OLDPWD|SHLVL|_' | sort | tr '\\n' ' '");
  run.attempt = 3;
  run.gpus = 8;
  run.resume_from = "/shared/ckpt/j-00000001/attempt-2/step-20";
  run.env = {{"EXTRA", "x y"}};
  RunStatus end = run_to_end(run);
  EXPECT_EQ(end.state, RunState::kSucceeded) << end.detail;
  const std::string out = output(run);
  EXPECT_NE(out.find("job=j-00000001 attempt=3 gpus=8 "
                     "resume=[/shared/ckpt/j-00000001/attempt-2/step-20] extra=[x y]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("ckpt=" + fs::absolute(run.checkpoint_dir).string() + "\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("cwd=" + fs::canonical(run.work_dir).string() + "\n"), std::string::npos)
      << out;
  ::unsetenv("STRAITS_TEST_AGENT_SECRET");
  EXPECT_NE(out.find("home=" + fs::absolute(run.work_dir).lexically_normal().string() + "\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("secret=[]\n"), std::string::npos) << out;
  // Besides what the shell sets itself (PWD), nothing else is there.
  EXPECT_NE(out.find("EXTRA HOME LANG PATH STRAITS_ATTEMPT STRAITS_CHECKPOINT_DIR STRAITS_GPUS "
                     "STRAITS_JOB_ID STRAITS_RESUME_FROM TZ "),
            std::string::npos)
      << out;
  EXPECT_TRUE(fs::is_directory(run.checkpoint_dir));

  LaunchSpec fresh = spec("echo \"resume=[$STRAITS_RESUME_FROM]\"", "fresh");
  EXPECT_EQ(run_to_end(fresh).state, RunState::kSucceeded);
  EXPECT_EQ(output(fresh), "resume=[]\n");
}

// Whatever the agent ignores or blocks (a server ignores SIGPIPE), the command starts with
// default dispositions, nothing blocked, and SIGUSR1 ignored (so that a shell waiting for the
// program that checkpoints does not die of it).
TEST_F(LocalBackendTest, CommandStartsWithDefaultSignalsButSigusr1Ignored) {
  struct sigaction ignore {
  }, old_pipe{}, old_int{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old_pipe);
  ::sigaction(SIGINT, &ignore, &old_int);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  LaunchSpec run = spec("grep -E '^Sig(Ign|Blk)' /proc/self/status");
  const std::string handle = launch(run);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);
  ASSERT_EQ(wait_end(handle).state, RunState::kSucceeded);
  // Bit n-1 stands for signal n: SIGUSR1 is 10. Signals 32 and 33 are glibc's own (threads
  // use them): no program can set them, so they are what the environment gave (some ignore
  // them) and are left out.
  const std::string out = output(run);
  unsigned long long blocked = 0, ignored = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "SigBlk:\t%llx\nSigIgn:\t%llx", &blocked, &ignored), 2) << out;
  const unsigned long long glibc_own = (1ULL << 31) | (1ULL << 32);
  EXPECT_EQ(blocked & ~glibc_own, 0u) << out;
  EXPECT_EQ(ignored & ~glibc_own, 0x200u) << out;
}

TEST_F(LocalBackendTest, OutputIsOneFileReadByOffset) {
  LaunchSpec run = spec("printf 'one\\n'; printf 'two\\n' >&2; printf 'three'");
  EXPECT_EQ(run_to_end(run).state, RunState::kSucceeded);
  EXPECT_EQ(read_file(run.work_dir / "output.log"), "one\ntwo\nthree");
  EXPECT_EQ(read_output(run.work_dir, 0, 4), "one\n");
  EXPECT_EQ(read_output(run.work_dir, 4, 100), "two\nthree");  // 13 bytes in all
  EXPECT_EQ(read_output(run.work_dir, 13, 100), "");
  EXPECT_EQ(read_output(run.work_dir, 1000, 100), "");
  EXPECT_EQ(output_tail(run.work_dir, 5), "three");
  EXPECT_EQ(output_tail(run.work_dir, 100), "one\ntwo\nthree");
  EXPECT_EQ(read_output(dir_.path() / "nothing", 0, 100), "");
  EXPECT_EQ(output_tail(dir_.path() / "nothing", 100), "");

  // A second run in the same folder appends.
  LaunchSpec again = spec("echo four");
  EXPECT_EQ(run_to_end(again).state, RunState::kSucceeded);
  EXPECT_EQ(read_output(run.work_dir, 13, 100), "four\n");
}

TEST_F(LocalBackendTest, ExitCodesAndSignalsMapToStates) {
  RunStatus zero = run_to_end(spec("exit 0", "zero"));
  EXPECT_EQ(zero.state, RunState::kSucceeded);
  EXPECT_EQ(zero.exit_code, 0);
  EXPECT_EQ(zero.signal, std::nullopt);

  RunStatus seven = run_to_end(spec("exit 7", "seven"));
  EXPECT_EQ(seven.state, RunState::kFailed);
  EXPECT_EQ(seven.exit_code, 7);
  EXPECT_EQ(seven.detail, "exited 7");

  RunStatus killed = run_to_end(spec("kill -KILL $$", "killed"));
  EXPECT_EQ(killed.state, RunState::kFailed);
  EXPECT_EQ(killed.exit_code, std::nullopt);
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_EQ(killed.detail, "killed by SIGKILL");

  // An ended run keeps its status.
  auto handle = backend_->launch(spec("exit 5", "kept"));
  ASSERT_TRUE(handle);
  EXPECT_EQ(wait_end(*handle).exit_code, 5);
  EXPECT_EQ(status(*handle).exit_code, 5);
}

TEST_F(LocalBackendTest, CommandThatDoesNotExistFailsWith127) {
  LaunchSpec run = spec("straits-no-such-command --flag");
  RunStatus end = run_to_end(run);
  EXPECT_EQ(end.state, RunState::kFailed);
  EXPECT_EQ(end.exit_code, 127);
  EXPECT_NE(output(run).find("straits-no-such-command: not found"), std::string::npos)
      << output(run);
}

TEST_F(LocalBackendTest, CheckpointOnSigusr1ThenResumeEndsWithTheSameResult) {
  LaunchSpec reference = spec(kTrain + " --steps 200 --step-ms 0", "reference");
  ASSERT_EQ(run_to_end(reference).state, RunState::kSucceeded) << output(reference);
  const std::string expected = final_line(output(reference));
  ASSERT_EQ(expected.rfind("final step=200 result=", 0), 0u) << output(reference);

  // A run asked for a checkpoint, then stopped (long before its 200 steps of 20 ms end).
  LaunchSpec first = spec(kTrain + " --steps 200 --step-ms 20", "first");
  const std::string handle = launch(first);
  ASSERT_TRUE(wait_for_output(first, "step 3/200")) << output(first);
  ASSERT_TRUE(backend_->request_checkpoint(handle));
  std::optional<Checkpoint> checkpoint;
  ASSERT_TRUE(wait_until(
      [&] {
        auto latest = read_latest_checkpoint(first.checkpoint_dir);
        EXPECT_TRUE(latest) << latest.error().to_string();
        if (latest && *latest) checkpoint = **latest;
        return checkpoint.has_value();
      },
      5s));
  EXPECT_EQ(fs::path(checkpoint->path).parent_path(), fs::absolute(first.checkpoint_dir));
  ASSERT_EQ(checkpoint->note.rfind("step=", 0), 0u) << checkpoint->note;
  const std::string step = checkpoint->note.substr(5);
  // Printed just after `latest` is renamed into place.
  EXPECT_TRUE(
      wait_for_output(first, "checkpoint step=" + step + " path=" + checkpoint->path + "\n"))
      << output(first);

  ASSERT_TRUE(backend_->stop(handle, Duration::seconds(5)));
  RunStatus stopped = wait_end(handle);
  EXPECT_EQ(stopped.state, RunState::kCancelled) << stopped.detail;
  // The shell died of SIGTERM at once; the run ended when the program had finished its step.
  EXPECT_NE(output(first).find("stopped by SIGTERM at step "), std::string::npos) << output(first);
  EXPECT_EQ(final_line(output(first)), "");
  auto latest = read_latest_checkpoint(first.checkpoint_dir);  // no checkpoint on SIGTERM
  ASSERT_TRUE(latest);
  EXPECT_EQ(*latest, checkpoint);

  // The next attempt resumes from it.
  LaunchSpec second = spec(kTrain + " --steps 200 --step-ms 0", "second");
  second.attempt = 2;
  second.resume_from = checkpoint->path;
  ASSERT_EQ(run_to_end(second).state, RunState::kSucceeded) << output(second);
  EXPECT_NE(output(second).find("resumed from step " + step + "\n"), std::string::npos)
      << output(second);
  EXPECT_EQ(output(second).find("step 1/200 "), std::string::npos) << output(second);
  EXPECT_EQ(final_line(output(second)), expected);
}

TEST_F(LocalBackendTest, StopEscalatesToSigkillWhenSigtermIsIgnored) {
  LaunchSpec run = spec("trap '' TERM; echo ready; sleep 60");
  const std::string handle = launch(run);
  ASSERT_TRUE(wait_for_output(run, "ready"));
  const auto stopped_at = Clock::now();
  ASSERT_TRUE(backend_->stop(handle, Duration::milliseconds(200)));
  EXPECT_EQ(status(handle).state, RunState::kRunning);
  RunStatus end = wait_end(handle, 5s);
  EXPECT_GE(Clock::now() - stopped_at, 200ms);
  EXPECT_EQ(end.state, RunState::kCancelled);
  EXPECT_EQ(end.signal, SIGKILL);
  EXPECT_EQ(end.detail, "stopped: killed by SIGKILL after a grace of 0.2s") << end.detail;
}

TEST_F(LocalBackendTest, StopEndsTheCommandsBackgroundChildren) {
  LaunchSpec run = spec("sleep 100 & echo $! > bg.pid; wait");
  const std::string handle = launch(run);
  const pid_t background = wait_for_pid(run.work_dir / "bg.pid");
  ASSERT_GT(background, 0);
  EXPECT_FALSE(process_gone(background));
  ASSERT_TRUE(backend_->stop(handle, Duration::seconds(5)));
  RunStatus end = wait_end(handle);
  EXPECT_EQ(end.state, RunState::kCancelled);
  EXPECT_EQ(end.signal, SIGTERM);
  EXPECT_TRUE(wait_until([&] { return process_gone(background); }, 2s));
}

TEST_F(LocalBackendTest, WhatARunLeavesBehindIsKilledWhenItEnds) {
  LaunchSpec run = spec("trap '' TERM; sleep 100 & echo $! > bg.pid; exit 0");
  const pid_t background = [&] {
    const std::string handle = launch(run);
    const pid_t pid = wait_for_pid(run.work_dir / "bg.pid");
    EXPECT_EQ(wait_end(handle).state, RunState::kSucceeded);
    return pid;
  }();
  ASSERT_GT(background, 0);
  EXPECT_TRUE(wait_until([&] { return process_gone(background); }, 2s));
}

TEST_F(LocalBackendTest, TimeLimitEndsAsTimedOutWithSigtermThenSigkill) {
  LaunchSpec polite = spec("sleep 30", "polite");
  polite.time_limit = Duration::milliseconds(200);
  LaunchSpec stubborn = spec("trap '' TERM; sleep 30", "stubborn");
  stubborn.time_limit = Duration::milliseconds(200);
  const std::string a = launch(polite);
  const std::string b = launch(stubborn);
  std::map<std::string, RunStatus> end;
  ASSERT_TRUE(wait_until(
      [&] {
        auto polled = backend_->poll({a, b});  // one call for both
        EXPECT_TRUE(polled);
        end = *polled;
        return is_final(end[a].state) && is_final(end[b].state);
      },
      5s));
  EXPECT_EQ(end[a].state, RunState::kTimedOut);
  EXPECT_EQ(end[a].signal, SIGTERM);
  EXPECT_EQ(end[a].detail, "time limit of 0.2s reached: killed by SIGTERM") << end[a].detail;
  EXPECT_EQ(end[b].state, RunState::kTimedOut);
  EXPECT_EQ(end[b].signal, SIGKILL);  // after the backend's kill_grace of 300 ms
}

TEST_F(LocalBackendTest, UnknownHandlesAreLost) {
  auto polled = backend_->poll({"999999999", "not-a-pid"});
  ASSERT_TRUE(polled);
  for (const std::string handle : {"999999999", "not-a-pid"}) {
    const RunStatus& lost = polled->at(handle);
    EXPECT_EQ(lost.state, RunState::kLost);
    EXPECT_NE(lost.detail.find("no run with handle '" + handle + "'"), std::string::npos)
        << lost.detail;
  }
  Status checkpoint = backend_->request_checkpoint("999999999");
  ASSERT_FALSE(checkpoint);
  EXPECT_EQ(checkpoint.error().code(), ErrorCode::kNotFound);
  Status stop = backend_->stop("999999999", Duration::seconds(1));
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().code(), ErrorCode::kNotFound);
  auto found = backend_->find("j-00000001", 1, "/tmp");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, std::nullopt);
  EXPECT_EQ(backend_->name(), "local");
}

TEST_F(LocalBackendTest, SignalsToAnEndedRun) {
  const std::string handle = launch(spec("true"));
  ASSERT_EQ(wait_end(handle).state, RunState::kSucceeded);
  Status checkpoint = backend_->request_checkpoint(handle);
  ASSERT_FALSE(checkpoint);
  EXPECT_EQ(checkpoint.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(backend_->stop(handle, Duration::seconds(1)));  // nothing to do
  EXPECT_EQ(status(handle).state, RunState::kSucceeded);
}

TEST_F(LocalBackendTest, LaunchErrors) {
  const fs::path file = dir_.write("a-file", "x");
  LaunchSpec blocked = spec("true");
  blocked.work_dir = file / "work";
  Result<std::string> refused = backend_->launch(blocked);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find(blocked.work_dir.string()), std::string::npos)
      << refused.error().message();

  LaunchSpec bad_env = spec("true");
  bad_env.env = {{"A=B", "c"}};
  Result<std::string> invalid = backend_->launch(bad_env);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code(), ErrorCode::kInvalidArgument);
}

// The agent is killed outright (SIGKILL, no destructor runs): its runs die with it.
TEST_F(LocalBackendTest, RunDiesWithItsAgent) {
  const fs::path pids = dir_.path() / "pids";
  const pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    std::unique_ptr<Backend> backend = make_local_backend();
    LaunchSpec run =
        spec("sleep 60 & echo $$ $! > pids.tmp && mv pids.tmp " + pids.string() + "; wait");
    if (!backend->launch(run)) ::_exit(1);
    for (;;) ::pause();
  }
  std::string text;
  const bool started = wait_until(
      [&] {
        text = read_file(pids);
        return !text.empty();
      },
      5s);
  pid_t shell = 0, sleeper = 0;
  std::istringstream(text) >> shell >> sleeper;
  const bool alive = started && shell > 0 && sleeper > 0 && !process_gone(sleeper);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);  // also when the run did not start: no agent left behind
  int agent_status = 0;
  ASSERT_EQ(::waitpid(agent, &agent_status, 0), agent);
  ASSERT_TRUE(alive) << "the run did not start: '" << text << "'";
  EXPECT_TRUE(wait_until([&] { return process_gone(shell) && process_gone(sleeper); }, 2s));
}

TEST_F(LocalBackendTest, DestroyingTheBackendStopsItsRuns) {
  LaunchSpec run = spec("trap '' TERM; sleep 60 & echo $! > bg.pid; wait");
  {
    std::unique_ptr<Backend> backend =
        make_local_backend(LocalOptions{.kill_grace = Duration::milliseconds(100)});
    ASSERT_TRUE(backend->launch(run));
    const pid_t background = wait_for_pid(run.work_dir / "bg.pid");
    ASSERT_GT(background, 0);
    backend.reset();
    EXPECT_TRUE(wait_until([&] { return process_gone(background); }, 2s));
  }
}

// read_latest_checkpoint, on files written by hand.
class LatestCheckpointTest : public ::testing::Test {
 protected:
  TempDir dir_{"exec-latest"};
};

TEST_F(LatestCheckpointTest, NoLatestIsNoCheckpoint) {
  auto none = read_latest_checkpoint(dir_.path());
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, std::nullopt);
  auto missing_dir = read_latest_checkpoint(dir_.path() / "nothing");
  ASSERT_TRUE(missing_dir);
  EXPECT_EQ(*missing_dir, std::nullopt);
}

TEST_F(LatestCheckpointTest, RelativePathsResolveAgainstTheFolder) {
  dir_.write("step-5/model.bin", "weights");
  dir_.write("latest", "step-5/model.bin step=5 loss=0.42\n");
  auto latest = read_latest_checkpoint(dir_.path());
  ASSERT_TRUE(latest) << latest.error().to_string();
  ASSERT_TRUE(*latest);
  EXPECT_EQ((*latest)->path, (dir_.path() / "step-5/model.bin").string());
  EXPECT_EQ((*latest)->note, "step=5 loss=0.42");
}

TEST_F(LatestCheckpointTest, AbsolutePathWithoutANote) {
  const fs::path checkpoint = dir_.write("elsewhere/ckpt", "x");
  dir_.write("latest", checkpoint.string());  // no newline
  auto latest = read_latest_checkpoint(dir_.path());
  ASSERT_TRUE(latest) << latest.error().to_string();
  EXPECT_EQ(*latest, (Checkpoint{checkpoint.string(), ""}));
}

TEST_F(LatestCheckpointTest, LatestNamingAMissingPathIsAnError) {
  dir_.write("latest", "step-9 step=9\n");
  auto latest = read_latest_checkpoint(dir_.path());
  ASSERT_FALSE(latest);
  EXPECT_EQ(latest.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(latest.error().message(), (dir_.path() / "latest").string() + " names " +
                                          (dir_.path() / "step-9").string() +
                                          ", which does not exist");
}

TEST_F(LatestCheckpointTest, EmptyOrUnreadableLatestIsAnError) {
  dir_.write("latest", "");
  auto empty = read_latest_checkpoint(dir_.path());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(empty.error().message().find((dir_.path() / "latest").string()), std::string::npos);

  fs::remove(dir_.path() / "latest");
  fs::create_directory(dir_.path() / "latest");
  auto directory = read_latest_checkpoint(dir_.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message(),
            "cannot read " + (dir_.path() / "latest").string() + ": not a regular file");
}

// A run owns its folders and may leave links there to files only the agent
// can read (its token): the agent reads neither `latest` nor output.log
// through a link.
TEST_F(LatestCheckpointTest, ALinkLeftByTheRunIsNotFollowed) {
  const fs::path secret = dir_.write("agent-only/token", "st_secret\n");
  fs::create_symlink(secret, dir_.path() / "latest");
  auto latest = read_latest_checkpoint(dir_.path());
  ASSERT_FALSE(latest);
  EXPECT_EQ(latest.error().message(),
            "cannot read " + (dir_.path() / "latest").string() + ": not a regular file");
  fs::create_symlink(secret, dir_.path() / "output.log");
  EXPECT_EQ(read_output(dir_.path(), 0, 1024), "");
  EXPECT_EQ(output_tail(dir_.path(), 1024), "");
}

// Ids from the server become folder names: only safe ones pass.
TEST(SafeNameTest, RefusesWhatWouldBeAPathAnOptionOrControlText) {
  for (const std::string& good :
       std::vector<std::string>{"j-00000003", "a", "J_1.x", std::string(128, 'j')}) {
    EXPECT_TRUE(check_safe_name("job id", good)) << good;
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "..", ".", "../x", "a/b", "-rf", ".hidden", "j 1", "j\n", std::string("j\0x", 3),
           std::string(129, 'j'), "j\x7f", "\xc3\xa9"}) {
    const Status checked = check_safe_name("job id", bad);
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(checked.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(checked.error().message().rfind("job id '", 0), 0u) << checked.error().message();
  }
  EXPECT_EQ(check_safe_name("job id", std::string("j\0x", 3)).error().message(),
            "job id 'j\\x00x' holds a character other than letters, digits, '.', '_' and '-'");
}

// One Unix user per org: a valid user name (at most 32 characters), never shared by two orgs.
TEST(RunUserTest, OrgUserNamesAreValidAndDistinct) {
  EXPECT_EQ(org_run_user("hanshan-sg"), "st-hanshan-sg");
  const std::string upper = org_run_user("Hanshan-SG");
  const std::string underscore = org_run_user("hanshan_sg");
  const std::string long_id = org_run_user(std::string(40, 'a'));
  const std::string long_other = org_run_user(std::string(39, 'a') + "b");
  for (const std::string& name : {upper, underscore, long_id, long_other}) {
    EXPECT_LE(name.size(), 32u) << name;
    EXPECT_EQ(name.rfind("st-", 0), 0u) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-"), std::string::npos)
        << name;
  }
  EXPECT_NE(upper, "st-hanshan-sg");
  EXPECT_NE(underscore, "st-hanshan-sg");
  EXPECT_NE(upper, underscore);
  EXPECT_NE(long_id, long_other);
  EXPECT_EQ(org_run_user("hanshan_sg"), underscore);  // the same org, the same user
}

TEST(RunUserTest, RootIsNeverARunUser) {
  auto root = find_run_user("root");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code(), ErrorCode::kInvalidArgument);
  auto missing = find_run_user("straits-no-such-user");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(RunStateTest, NamesAreTheOutcomesOfTheProtocol) {
  EXPECT_EQ(to_string(RunState::kTimedOut), "timed_out");
  EXPECT_EQ(to_string(RunState::kNodeFailure), "node_failure");
  EXPECT_EQ(to_string(RunState::kCancelled), "cancelled");
  EXPECT_FALSE(is_final(RunState::kPending));
  EXPECT_FALSE(is_final(RunState::kRunning));
  EXPECT_TRUE(is_final(RunState::kLost));
  EXPECT_TRUE(is_final(RunState::kSucceeded));
}

// straits-train's own flags, run through the backend.
class TrainTest : public LocalBackendTest {};

TEST_F(TrainTest, PrintsItsEnvironmentStepsAndAResult) {
  LaunchSpec run = spec(kTrain + " --steps 3 --step-ms 0");
  run.gpus = 2;
  run.attempt = 4;
  ASSERT_EQ(run_to_end(run).state, RunState::kSucceeded);
  std::istringstream lines(output(run));
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "gpus=2 job=j-00000001 attempt=4");
  for (int step = 1; step <= 3; ++step) {
    std::getline(lines, line);
    EXPECT_EQ(line.rfind("step " + std::to_string(step) + "/3 loss ", 0), 0u) << line;
  }
  std::getline(lines, line);
  EXPECT_EQ(line.rfind("final step=3 result=", 0), 0u) << line;
  EXPECT_EQ(line.size(), std::string("final step=3 result=").size() + 16);
}

TEST_F(TrainTest, PeriodicCheckpointsResumeToTheSameResultFromAnyOfThem) {
  LaunchSpec whole = spec(kTrain + " --steps 12 --step-ms 0 --checkpoint-every 5", "whole");
  ASSERT_EQ(run_to_end(whole).state, RunState::kSucceeded) << output(whole);
  const std::string expected = final_line(output(whole));
  auto latest = read_latest_checkpoint(whole.checkpoint_dir);
  ASSERT_TRUE(latest && *latest);
  EXPECT_EQ(**latest,
            (Checkpoint{fs::absolute(whole.checkpoint_dir / "step-000010").string(), "step=10"}));
  for (const std::string name : {"step-000005", "step-000010"}) {
    LaunchSpec resumed = spec(kTrain + " --steps 12 --step-ms 0", "from-" + name);
    resumed.resume_from = (whole.checkpoint_dir / name).string();
    ASSERT_EQ(run_to_end(resumed).state, RunState::kSucceeded) << output(resumed);
    EXPECT_EQ(final_line(output(resumed)), expected) << name;
  }
}

TEST_F(TrainTest, FailAtStepExitsWithTheGivenCode) {
  LaunchSpec nine = spec(kTrain + " --steps 5 --step-ms 0 --fail-at-step 2 --exit-code 9", "nine");
  RunStatus end = run_to_end(nine);
  EXPECT_EQ(end.state, RunState::kFailed);
  EXPECT_EQ(end.exit_code, 9);
  EXPECT_NE(output(nine).find("step 2/5 loss "), std::string::npos);
  EXPECT_NE(output(nine).find("failing at step 2\n"), std::string::npos);
  EXPECT_EQ(output(nine).find("step 3/5"), std::string::npos);

  EXPECT_EQ(run_to_end(spec(kTrain + " --steps 5 --step-ms 0 --fail-at-step 1", "three")).exit_code,
            3);
}

TEST_F(TrainTest, ALockHeldByAnotherRunExits75) {
  const fs::path lock = dir_.path() / "job.lock";
  LaunchSpec holder = spec(kTrain + " --steps 1000 --step-ms 10 --lock " + lock.string(), "holder");
  const std::string handle = launch(holder);
  ASSERT_TRUE(wait_for_output(holder, "step 1/1000"));
  LaunchSpec second = spec(kTrain + " --steps 3 --step-ms 0 --lock " + lock.string(), "second");
  RunStatus refused = run_to_end(second);
  EXPECT_EQ(refused.state, RunState::kFailed);
  EXPECT_EQ(refused.exit_code, 75);
  EXPECT_EQ(output(second), "another run holds " + lock.string() + "\n");

  ASSERT_TRUE(backend_->stop(handle, Duration::seconds(5)));
  EXPECT_EQ(wait_end(handle).state, RunState::kCancelled);
  LaunchSpec third = spec(kTrain + " --steps 3 --step-ms 0 --lock " + lock.string(), "third");
  EXPECT_EQ(run_to_end(third).state, RunState::kSucceeded) << output(third);
}

TEST_F(TrainTest, ABadResumeFileExits2NamingIt) {
  LaunchSpec missing = spec(kTrain + " --steps 3", "missing");
  missing.resume_from = (dir_.path() / "no-such-checkpoint").string();
  EXPECT_EQ(run_to_end(missing).exit_code, 2);
  EXPECT_NE(output(missing).find("cannot resume from " + missing.resume_from), std::string::npos)
      << output(missing);

  LaunchSpec garbage = spec(kTrain + " --steps 3", "garbage");
  garbage.resume_from = dir_.write("garbage.ckpt", "step 2\n").string();
  EXPECT_EQ(run_to_end(garbage).exit_code, 2);
  EXPECT_NE(output(garbage).find(garbage.resume_from + ": not a straits-train checkpoint"),
            std::string::npos)
      << output(garbage);
}

TEST_F(TrainTest, UsageErrorsExit2) {
  for (const std::string args :
       {"", "--steps 0", "--steps 3 --exit-code 4", "--steps 3 --frob 1", "--steps"}) {
    LaunchSpec run = spec(kTrain + " " + args, "usage");
    EXPECT_EQ(run_to_end(run).exit_code, 2) << args;
  }
}

}  // namespace
}  // namespace straits::exec
