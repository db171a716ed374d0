// The simulation-scale benchmark of issue 4: synthetic traces of 10^4, 10^5
// and 10^6 jobs at 80% offered load on a fleet of 10,000 GPUs in 20 pools
// across 5 countries (bench/data/fleet), EASY backfill, policy checks on, one
// rule change in the middle of the trace (bench/data/sim-scale.yaml).
// Targets: 10^6 jobs in <= 10 s on one core with a peak RSS <= 1 GiB, and a
// flat cost per job from 10^4 to 10^6.
//
// Usage: straits_sim_scale [--budget SECONDS] [--keep] [JOBS...]   (default 10000 100000 1000000)
//
// Each size runs in a forked child pinned to one core, so that its peak RSS
// (VmHWM, reset at the child's start) is its own. The child loads the scenario,
// sets the job count, a horizon 30 days past the trace's last arrival and
// close_from at the middle of the trace, and runs sim::run_simulation into a
// temporary folder (progress off), which is removed afterwards (kept, and
// named on stderr, with --keep: `straits sim verify` can check it). The time
// measured is the whole run_simulation call: catalog and rule packs, workload
// generation, simulation and the output files. A size whose time, extrapolated
// from the sizes before it, would exceed the budget (default 600 s) is skipped.
// Exit status 1 if a run fails.
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/generator.h"
#include "sim/scenario.h"

namespace fs = std::filesystem;
using namespace straits;

namespace {

struct Measure {
  std::size_t jobs = 0, events = 0, completed = 0, running = 0, pending = 0, stopped = 0, never = 0,
              moves = 0;
  double wall_s = 0, cpu_s = 0, rss_mib = 0, trace_days = 0;
  std::string close_from;
};

// A /proc/self/status field in kB (VmHWM, VmRSS), or -1.
long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  }
  return -1;
}

// The child: one size, measured; writes one line to `fd`, returns the exit code.
int run_one(std::size_t jobs, bool keep, int fd) {
  // One core (the one it starts on), and a peak RSS of this run alone ("5":
  // reset the peak, Linux >= 4.0).
  if (int cpu = sched_getcpu(); cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
  }
  { std::ofstream("/proc/self/clear_refs") << "5"; }

  const fs::path root = STRAITS_SOURCE_DIR;
  auto loaded = sim::load_scenario(root / "bench" / "data" / "sim-scale.yaml", root);
  if (!loaded) {
    std::fprintf(stderr, "straits_sim_scale: %s\n", loaded.error().message().c_str());
    return 1;
  }
  sim::Scenario scenario = std::move(loaded).value();
  if (!scenario.synthetic) {
    std::fprintf(stderr, "straits_sim_scale: the scenario has no synthetic workload\n");
    return 1;
  }
  // The arrival rate, from the first arrivals of the same seed (the arrival
  // stream does not depend on the job count): the trace lasts about jobs / rate.
  sim::GeneratorOptions sample = *scenario.synthetic;
  sample.seed = scenario.seed;
  sample.start = scenario.start;
  sample.jobs = std::min<std::size_t>(jobs, 20000);
  Duration per_job;
  {
    auto head = sim::generate_workload(sample);
    per_job = Duration::from_seconds((head.back().submit - scenario.start).to_seconds() /
                                     static_cast<double>(head.size()));
  }
  const Duration trace = Duration::from_seconds(per_job.to_seconds() * static_cast<double>(jobs));
  scenario.synthetic->jobs = jobs;
  // 30 days is the longest run time the generator draws: every job could finish.
  scenario.horizon = trace + Duration::days(30);
  const Instant middle = scenario.start + Duration::from_seconds(trace.to_seconds() / 2);
  scenario.params["close_from"] =
      to_iso8601(Instant::from_unix_seconds(middle.unix_seconds() / 3600 * 3600));  // whole hour

  char dir_template[] = "/tmp/straits-sim-scale-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    std::perror("straits_sim_scale: mkdtemp");
    return 1;
  }
  const fs::path out = dir_template;
  sim::SimOptions options;
  options.progress = false;

  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  auto t0 = std::chrono::steady_clock::now();
  auto summary = sim::run_simulation(scenario, options, out / "run");
  auto t1 = std::chrono::steady_clock::now();
  getrusage(RUSAGE_SELF, &after);
  const long hwm = status_kb("VmHWM");
  std::error_code ec;
  if (keep) {
    std::fprintf(stderr, "straits_sim_scale: %zu jobs: output kept in %s\n", jobs,
                 (out / "run").c_str());
  } else {
    fs::remove_all(out, ec);
  }
  if (!summary) {
    std::fprintf(stderr, "straits_sim_scale: %zu jobs: %s\n", jobs,
                 summary.error().message().c_str());
    return 1;
  }
  auto cpu = [](const rusage& r) {
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  const sim::SimSummary& s = *summary;
  std::string line =
      std::to_string(s.jobs) + " " + std::to_string(s.events) + " " + std::to_string(s.completed) +
      " " + std::to_string(s.running) + " " + std::to_string(s.pending) + " " +
      std::to_string(s.stopped) + " " + std::to_string(s.never) + " " + std::to_string(s.moves) +
      " " + std::to_string(std::chrono::duration<double>(t1 - t0).count()) + " " +
      std::to_string(cpu(after) - cpu(before)) + " " +
      std::to_string(static_cast<double>(hwm) / 1024.0) + " " +
      std::to_string(trace.to_hours() / 24) + " " + scenario.params["close_from"] + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  return 0;
}

bool run_forked(std::size_t jobs, bool keep, Measure& m) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::close(fds[0]);
    int code = run_one(jobs, keep, fds[1]);
    ::close(fds[1]);
    std::_Exit(code);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status))
      std::fprintf(stderr, "straits_sim_scale: %zu jobs: killed by signal %d\n", jobs,
                   WTERMSIG(status));
    return false;
  }
  char close_from[64] = "";
  int fields =
      std::sscanf(text.c_str(), "%zu %zu %zu %zu %zu %zu %zu %zu %lf %lf %lf %lf %63s", &m.jobs,
                  &m.events, &m.completed, &m.running, &m.pending, &m.stopped, &m.never, &m.moves,
                  &m.wall_s, &m.cpu_s, &m.rss_mib, &m.trace_days, close_from);
  m.close_from = close_from;
  return fields == 13;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  double budget = 600;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--budget" && i + 1 < argc) {
      budget = std::strtod(argv[++i], nullptr);
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: straits_sim_scale [--budget SECONDS] [--keep] [JOBS...]\n");
      return 0;
    } else {
      char* end = nullptr;
      double v = std::strtod(a.c_str(), &end);  // accepts 1e6
      if (end == a.c_str() || *end != '\0' || !(v >= 1)) {
        std::fprintf(stderr, "straits_sim_scale: not a job count: %s\n", a.c_str());
        return 2;
      }
      sizes.push_back(static_cast<std::size_t>(v));
    }
  }
  if (sizes.empty()) sizes = {10'000, 100'000, 1'000'000};

  std::printf(
      "Simulation scale: bench/data/sim-scale.yaml on bench/data/fleet (10,000 GPUs, 20 pools,\n"
      "5 countries), load 0.8, easy-backfill, default + close-remote-access (close_from at the\n"
      "middle of the trace). One forked child per size, pinned to one core.\n\n");
  std::printf(
      "| jobs | trace days | close_from | events | wall s | cpu s | us/job | peak RSS MiB | "
      "completed "
      "| running | pending | stopped | never | moves |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  bool failed = false;
  std::vector<Measure> done;
  for (std::size_t jobs : sizes) {
    // Extrapolate from what ran: the growth exponent of the last two sizes (1 if one).
    if (!done.empty()) {
      const Measure& last = done.back();
      double exponent = 1;
      if (done.size() >= 2) {
        const Measure& prev = done[done.size() - 2];
        if (last.jobs != prev.jobs && prev.wall_s > 0) {
          exponent = std::log(last.wall_s / prev.wall_s) /
                     std::log(static_cast<double>(last.jobs) / static_cast<double>(prev.jobs));
          exponent = std::max(1.0, exponent);
        }
      }
      double estimate =
          last.wall_s *
          std::pow(static_cast<double>(jobs) / static_cast<double>(last.jobs), exponent);
      if (estimate > budget) {
        std::printf(
            "| %zu | skipped: about %.0f s extrapolated (time ~ jobs^%.2f), over the %.0f s "
            "budget |||||||||||||\n",
            jobs, estimate, exponent, budget);
        std::fflush(stdout);
        continue;
      }
    }
    Measure m;
    if (!run_forked(jobs, keep, m)) {
      std::printf("| %zu | FAILED |||||||||||||\n", jobs);
      failed = true;
      continue;
    }
    std::printf(
        "| %zu | %.1f | %s | %zu | %.2f | %.2f | %.1f | %.0f | %zu | %zu | %zu | %zu | %zu "
        "| %zu |\n",
        m.jobs, m.trace_days, m.close_from.c_str(), m.events, m.wall_s, m.cpu_s,
        m.wall_s * 1e6 / static_cast<double>(m.jobs), m.rss_mib, m.completed, m.running, m.pending,
        m.stopped, m.never, m.moves);
    std::fflush(stdout);
    done.push_back(m);
  }
  return failed ? 1 : 0;
}
