// Jobs are untrusted code (issue 15, section 1). Each test is an attack a
// job (or a server that sends hostile ids) tried, and each failed on the code
// before the fix:
//   - a job read /proc/$PPID/cmdline (the supervisor is a fork of the agent)
//     and the agent's own, /proc/PID/environ, its own environment, the
//     agent's token file and state.json, and used the token;
//   - a job listed and wrote another org's run folder and read its
//     output.log and checkpoint;
//   - a job id "../x" (or with a NUL) became a folder outside the work root;
//   - a command given as a one-element list was run by the shell.
// The runs execute as other Unix users (straits-run, one user per org), so
// the tests need root, as CI has; they skip otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "agent/internal/core.h"
#include "agent/internal/protocol.h"
#include "e2e/e2e_fixture.h"
#include "exec/local.h"
#include "exec/run_user.h"
#include "policy/temp_dir.h"

namespace straits {
namespace {

namespace fs = std::filesystem;
using agent::internal::AgentState;
using agent::internal::Assignment;
using agent::internal::Core;
using agent::internal::Report;
using Steady = std::chrono::steady_clock;
using e2e::json;

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

// What a stolen credential looks like from inside a job: everything the job
// can find about its agent.
std::string probe_command(const fs::path& token_file, const fs::path& state_dir) {
  const std::string agent_pid = "$(awk '{print $4}' /proc/$PPID/stat)";
  return "echo \"uid=$(id -u)\"; "
         "echo 'supervisor cmdline:'; tr '\\0' ' ' < /proc/$PPID/cmdline; echo; "
         "echo 'agent cmdline:'; tr '\\0' ' ' < /proc/" +
         agent_pid +
         "/cmdline; echo; "
         "echo 'supervisor environ:'; tr '\\0' '\\n' < /proc/$PPID/environ; "
         "echo 'agent environ:'; tr '\\0' '\\n' < /proc/" +
         agent_pid +
         "/environ; "
         "echo 'own environment:'; env; "
         "echo 'token file:'; cat " +
         token_file.string() + "; echo 'state:'; cat " + (state_dir / "state.json").string() +
         "; ls " + state_dir.string() + "; true";
}

// ---------------------------------------------------------------------------------------------
// Real `straits agent` processes against the real server.

class JobsAttackTest : public e2e::EndToEndTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "runs execute as other users: needs root (CI is)";
    started_ = true;
    e2e::EndToEndTest::SetUp();
  }
  void TearDown() override {
    if (started_) e2e::EndToEndTest::TearDown();
  }

  // A job of hanshan on the leased H100s of sg-tuas-1 with `command`.
  std::string submit(const json& command) {
    EXPECT_EQ(
        server_
            .lease("hanshan", "sg-tuas-1-h100", 8, "2026-12-01T00:00:00Z", "2027-06-01T00:00:00Z")
            .status,
        201);
    e2e::Answer job = server_.post("/v1/jobs", admin_,
                                   {{"org", "hanshan"},
                                    {"gpus", 8},
                                    {"work", 200},
                                    {"eligible_chips", {"h100-sxm"}},
                                    {"command", command}});
    EXPECT_EQ(job.status, 201) << job.text;
    return job.body["id"];
  }
  bool ended(const std::string& id, int seconds) {
    return wait_until(
        [&] {
          const std::string state = job(id)["state"];
          return state == "succeeded" || state == "failed";
        },
        seconds);
  }
  e2e::AgentProcess& agent_with(std::vector<std::string> token_args, const fs::path& state_dir) {
    std::vector<std::string> args = {STRAITS_BINARY, "agent", "--server", url()};
    args.insert(args.end(), token_args.begin(), token_args.end());
    args.insert(args.end(), {"--allow-admin-token", "--site", "sg-tuas-1", "--backend", "local",
                             "--name", "probe", "--state-dir", state_dir.string(), "--poll-wait",
                             "5", "--local-poll-interval", "200ms"});
    // A secret of the agent's environment: a job must never see it.
    agents_.push_back(std::make_unique<e2e::AgentProcess>(
        args, server_.dir() / "agent-probe.log",
        std::vector<std::pair<std::string, std::string>>{
            {"STRAITS_AGENT_SECRET", "agent-env-secret-4711"}}));
    agents_.back()->start();
    return *agents_.back();
  }
  void expect_nothing_stolen(const std::string& id, const fs::path& state_dir) {
    ASSERT_TRUE(ended(id, 120)) << job(id).dump(2);
    const std::string logs = log_text(id);
    std::smatch uid;
    ASSERT_TRUE(std::regex_search(logs, uid, std::regex("uid=([0-9]+)"))) << logs;
    EXPECT_NE(uid[1], "0") << "the job ran as root";
    EXPECT_EQ(logs.find(admin_), std::string::npos) << "the job found the agent's token:\n" << logs;
    EXPECT_EQ(logs.find("agent-env-secret-4711"), std::string::npos)
        << "the job saw the agent's environment:\n"
        << logs;
    EXPECT_EQ(logs.find("\"agent_id\""), std::string::npos) << "the job read state.json:\n" << logs;
    EXPECT_FALSE(has_line(logs, "state.json")) << "the job listed the state folder:\n" << logs;
    // Its own environment is the allow-list.
    EXPECT_TRUE(has_line(logs, "PATH=/usr/local/bin:/usr/bin:/bin")) << logs;
    EXPECT_TRUE(has_line(logs, "STRAITS_JOB_ID=" + id)) << logs;
    EXPECT_TRUE(has_line(logs, "HOME=" + state_dir.string() + "/runs/" + id + "/attempt-1"))
        << logs;
    const auto mode = fs::status(state_dir / "state.json").permissions();
    EXPECT_EQ(mode & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  }

  bool started_ = false;
};

TEST_F(JobsAttackTest, AJobCannotStealATokenGivenOnTheCommandLine) {
  const fs::path state_dir = server_.dir() / "agent-probe";
  const fs::path token_file = server_.dir() / "not-given.token";
  agent_with({"--token", admin_}, state_dir);
  const std::string id = submit(probe_command(token_file, state_dir));
  expect_nothing_stolen(id, state_dir);
}

TEST_F(JobsAttackTest, AJobCannotReadTheAgentsTokenFile) {
  const fs::path state_dir = server_.dir() / "agent-probe";
  const fs::path token_file = server_.dir() / "agent.token";
  {
    std::ofstream out(token_file);
    out << admin_ << "\n";
  }
  fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);
  agent_with({"--token-file", token_file.string()}, state_dir);
  const std::string id = submit(probe_command(token_file, state_dir));
  expect_nothing_stolen(id, state_dir);
}

TEST_F(JobsAttackTest, AOneElementListCommandIsArgvNotShell) {
  // A folder anyone may write to: were the list run by a shell, `touch` would make the marker.
  const fs::path open_dir = server_.dir() / "open";
  fs::create_directories(open_dir);
  fs::permissions(open_dir, fs::perms::all);
  const fs::path marker = open_dir / "marker";
  agent("sec", "sg-tuas-1", "local");
  const std::string id = submit(json::array({"touch " + marker.string() + "; true"}));
  ASSERT_TRUE(ended(id, 120)) << job(id).dump(2);
  const json j = job(id);
  EXPECT_EQ(j["state"], "failed") << j.dump(2);
  EXPECT_EQ(j["run"]["result"]["exit_code"], 127) << j.dump(2);  // no program of that name
  EXPECT_FALSE(fs::exists(marker)) << "the one-element list was run by a shell";
}

// ---------------------------------------------------------------------------------------------
// The agent's core over the real local backend.

class JobsCoreAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "runs execute as other users: needs root (CI is)";
    backend_ = exec::make_local_backend({Duration::seconds(1)});
  }

  agent::internal::CoreOptions options(bool per_org) const {
    agent::internal::CoreOptions o;
    o.work_root = dir_.path() / "runs";
    o.checkpoint_root = dir_.path() / "checkpoints";
    o.kill_grace = Duration::seconds(1);
    o.poll_interval = Duration::milliseconds(10);
    o.log_interval = Duration::milliseconds(10);
    o.run_as_per_org = per_org;
    if (!per_org) o.run_as = std::string(exec::kDefaultRunUser);
    return o;
  }
  std::unique_ptr<Core> make_core(bool per_org) {
    for (const fs::path& root : {dir_.path() / "runs", dir_.path() / "checkpoints"}) {
      EXPECT_TRUE(exec::prepare_agent_folder(root));
    }
    return std::make_unique<Core>(
        options(per_org), *backend_, AgentState{}, [] { return Steady::now(); },
        [this](const std::string& line) { said_ += line + "\n"; });
  }
  static Assignment start_of(const std::string& job, const std::string& org,
                             const std::string& command) {
    Assignment a;
    a.id = job + "/1/start";
    a.kind = "start";
    a.job = job;
    a.attempt = 1;
    a.org = org;
    a.site = "sg-tuas-1";
    a.pool = "sg-tuas-1-h100";
    a.chip = "h100-sxm";
    a.command = command;
    return a;
  }
  // Ticks until every run has ended (at most 60 s).
  bool run_to_end(Core& core) {
    const auto deadline = Steady::now() + std::chrono::seconds(60);
    while (Steady::now() < deadline) {
      core.tick(true);
      bool all = true;
      for (const auto& [key, run] : core.state().runs) all = all && run.ended;
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  static std::string logs_of(const Core& core, const std::string& job) {
    std::string text;
    for (const Report& r : core.pending_reports()) {
      if (r.job == job && r.event == "log") text += r.text;
    }
    return text;
  }

  testing_util::TempDir dir_{"security-jobs"};
  std::unique_ptr<exec::Backend> backend_;
  std::string said_;
};

TEST_F(JobsCoreAttackTest, AJobCannotReachAnotherOrgsRunFolderOrCheckpoint) {
  auto core = make_core(true);
  const fs::path runs = dir_.path() / "runs";
  const fs::path checkpoints = dir_.path() / "checkpoints";
  // Org A's run: output and a checkpoint, reported the way jobs report them.
  core->handle(
      {start_of("j-a", "sec-org-a",
                "echo secret-output-of-a; echo secret-checkpoint-of-a > "
                "\"$STRAITS_CHECKPOINT_DIR/ckpt\"; echo ckpt > "
                "\"$STRAITS_CHECKPOINT_DIR/latest.tmp\"; mv "
                "\"$STRAITS_CHECKPOINT_DIR/latest.tmp\" \"$STRAITS_CHECKPOINT_DIR/latest\"")},
      Steady::now());
  ASSERT_TRUE(run_to_end(*core)) << said_;
  ASSERT_NE(logs_of(*core, "j-a").find("secret-output-of-a"), std::string::npos) << said_;
  const fs::path a_run = runs / "j-a/attempt-1";
  const fs::path a_checkpoint = checkpoints / "j-a/attempt-1";
  // Org B's run tries everything.
  const std::string attack =
      "ls " + runs.string() + "; ls " + (runs / "j-a").string() + "; ls " + a_run.string() +
      "; cat " + (a_run / "output.log").string() + "; cat " + (a_checkpoint / "ckpt").string() +
      "; touch " + (a_run / "pwned").string() + "; echo moved > " +
      (a_checkpoint / "latest").string() + "; ls " + checkpoints.string() + "; true";
  core->handle({start_of("j-b", "sec-org-b", attack)}, Steady::now());
  ASSERT_TRUE(run_to_end(*core)) << said_;
  const std::string b_logs = logs_of(*core, "j-b");
  EXPECT_EQ(b_logs.find("secret-output-of-a"), std::string::npos) << b_logs;
  EXPECT_EQ(b_logs.find("secret-checkpoint-of-a"), std::string::npos) << b_logs;
  for (const std::string name : {"j-a", "j-b", "attempt-1", "output.log", "ckpt", "latest"}) {
    EXPECT_FALSE(has_line(b_logs, name)) << "listed '" << name << "':\n" << b_logs;
  }
  EXPECT_FALSE(fs::exists(a_run / "pwned"));
  EXPECT_EQ(read_file(a_checkpoint / "latest"), "ckpt\n");
  // Each run's folders belong to its org's user, 0700.
  struct stat a_info {
  }, b_info{};
  ASSERT_EQ(::stat(a_run.c_str(), &a_info), 0);
  ASSERT_EQ(::stat((runs / "j-b/attempt-1").c_str(), &b_info), 0);
  EXPECT_NE(a_info.st_uid, 0u);
  EXPECT_NE(a_info.st_uid, b_info.st_uid);
  EXPECT_EQ(a_info.st_mode & 07777, 0700u);
  auto a_user = exec::find_run_user(exec::org_run_user("sec-org-a"));
  ASSERT_TRUE(a_user) << a_user.error().message();
  EXPECT_EQ(a_info.st_uid, a_user->uid);
}

TEST_F(JobsCoreAttackTest, JobIdsThatWouldBePathsAreRefused) {
  auto core = make_core(false);
  const fs::path marker = dir_.path() / "marker";
  const std::string touch = "touch " + marker.string();
  core->handle({start_of("../escaped", "hanshan", touch),
                start_of(std::string("j-1\0/../../x", 12), "hanshan", touch),
                start_of("j-2/../../y", "hanshan", touch), start_of("..", "hanshan", touch),
                start_of("j-3\n", "hanshan", touch)},
               Steady::now());
  ASSERT_TRUE(run_to_end(*core)) << said_;
  EXPECT_FALSE(fs::exists(marker)) << "a refused job ran:\n" << said_;
  EXPECT_FALSE(fs::exists(dir_.path() / "escaped"));
  EXPECT_FALSE(fs::exists(dir_.path() / "y"));
  EXPECT_FALSE(fs::exists(dir_.path() / "x"));
  // Each is answered (started without a handle, then exited failed, saying why).
  int refused = 0;
  for (const Report& r : core->pending_reports()) {
    if (r.event == "exited") {
      EXPECT_EQ(r.outcome, "failed");
      EXPECT_NE(r.detail.find("refused by the agent: job id"), std::string::npos) << r.detail;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 5) << said_;
  EXPECT_TRUE(core->state().runs.empty());
}

}  // namespace
}  // namespace straits
