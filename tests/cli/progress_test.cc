// Runs the real `straits sim run` under a pseudo-terminal: the progress bar is drawn on stderr
// when stderr is a terminal, redrawn in place and cleared at the end; never with --quiet, and
// never when stderr is not a terminal.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/shell.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Far past what one run takes, even in the sanitizer build: a hung child fails the test.
constexpr auto kDeadline = std::chrono::seconds(300);

const fs::path kScale = fs::path(STRAITS_SOURCE_DIR) / "bench" / "data" / "sim-scale.yaml";

// The progress bar shows after 200 ms of wall time: the run must last well past that, in every
// run of the same scenario, for the runs without a bar to mean anything. sim-scale.yaml as
// written (10^5 jobs) takes about 1.5 s optimised but about 9 s in the debug build, and longer
// with the sanitizers; there a copy with fewer jobs (about 1.5 s in the debug build) does.
fs::path scenario_in(const fs::path& dir) {
#ifdef NDEBUG
  (void)dir;
  return kScale;
#else
  YAML::Node scenario = YAML::LoadFile(kScale.string());
  scenario["catalog"] = (kScale.parent_path() / scenario["catalog"].as<std::string>()).string();
  scenario["workload"]["synthetic"]["jobs"] = 20000;
  YAML::Emitter out;
  out << scenario;
  fs::path file = dir / "sim-scale-20k.yaml";
  std::ofstream(file) << out.c_str() << "\n";
  return file;
#endif
}

// Runs straits with stdin, stdout and stderr on a new pseudo-terminal; returns all it wrote.
Outcome straits_in_pty(const std::vector<std::string>& args) {
  std::vector<std::string> words = {STRAITS_BINARY};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  Outcome run;
  int master = -1;
  struct winsize size {};
  size.ws_row = 24;
  size.ws_col = 200;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return run;
  }
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ADD_FAILURE() << "straits did not finish in " << kDeadline.count() << " s";
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd ready{master, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      ::kill(pid, SIGKILL);
      break;
    }
    if (ready.revents == 0) continue;
    ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      run.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;  // EOF, or EIO on Linux: the last holder of the terminal's other end has closed it
    }
  }
  ::close(master);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Runs straits with stdout and stderr on a pipe.
Outcome straits_in_pipe(const std::string& args) {
  std::string command = std::string(STRAITS_BINARY) + " " + args + " 2>&1 </dev/null";
  straits::testing::CommandResult result = straits::testing::run_command(command);
  Outcome run;
  run.exit_code = result.exit_code;
  run.output = std::move(result.out);
  return run;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("straits-progress-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    scenario_ = scenario_in(dir_);
    out_ = dir_ / "out";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_, scenario_, out_;
};

TEST_F(ProgressTest, DrawsABarInPlaceOnATerminal) {
  Outcome run = straits_in_pty({"sim", "run", scenario_.string(), "--out", out_.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(out_ / "summary.json"));
  EXPECT_TRUE(contains(run.output, "ETA")) << run.output;
  EXPECT_TRUE(contains(run.output, "%")) << run.output;
  EXPECT_TRUE(contains(run.output, "events (")) << run.output;
  EXPECT_TRUE(contains(run.output, "\r")) << run.output;

  // Every bar starts with a carriage return, so that the next one draws over it: from the first
  // bar to the summary there is no new line. (The terminal turns the summary's "\n" into "\r\n".)
  std::size_t first = run.output.find("\r[");
  std::size_t summary = run.output.find("simulated ");
  ASSERT_NE(first, std::string::npos) << run.output;
  ASSERT_NE(summary, std::string::npos) << run.output;
  ASSERT_LT(first, summary) << run.output;
  std::string bars = run.output.substr(first, summary - first);
  EXPECT_EQ(bars.find('\n'), std::string::npos) << bars;

  // The last bar is wiped (blanks over its full width) and the summary starts in column 0.
  std::size_t last = bars.rfind("\r[");
  std::size_t end = bars.find('\r', last + 1);
  ASSERT_NE(end, std::string::npos) << bars;
  std::size_t widest = 0;
  for (std::size_t at = 0; at < end;) {
    std::size_t next = bars.find('\r', at + 1);
    widest = std::max(widest, std::min(next, end) - at - 1);
    at = next;
  }
  std::string wipe = bars.substr(end);
  EXPECT_GE(wipe.size(), widest + 2) << bars;
  EXPECT_EQ(wipe.front(), '\r');
  EXPECT_EQ(wipe.back(), '\r');
  EXPECT_EQ(wipe.find_first_not_of(' ', 1), wipe.size() - 1) << "not blank: " << wipe;
}

TEST_F(ProgressTest, NoBarWhenQuiet) {
  Outcome run =
      straits_in_pty({"sim", "run", scenario_.string(), "--out", out_.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(out_ / "summary.json"));
  EXPECT_FALSE(contains(run.output, "ETA")) << run.output;
  EXPECT_FALSE(contains(run.output, "events (")) << run.output;
}

TEST_F(ProgressTest, NoBarWhenStderrIsNotATerminal) {
  Outcome run = straits_in_pipe("sim run " + scenario_.string() + " --out " + out_.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(out_ / "summary.json"));
  EXPECT_TRUE(contains(run.output, "simulated ")) << run.output;
  EXPECT_FALSE(contains(run.output, "ETA")) << run.output;
  EXPECT_FALSE(contains(run.output, "\r")) << run.output;
}

}  // namespace
