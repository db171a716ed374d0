// straits-train: an example training job that cooperates with straits as a
// real one should (docs/agents.md, "Jobs and their checkpoints"):
//
//   - it reads STRAITS_CHECKPOINT_DIR and STRAITS_RESUME_FROM;
//   - it writes a checkpoint every K steps and at the next step boundary
//     after SIGUSR1, then reports it by writing DIR/latest atomically;
//   - it stops at the next step boundary after SIGTERM (exit 143);
//   - resumed from any of its checkpoints, it ends with the same result as a
//     run that was never interrupted.
//
// The "training" is a 64-bit state mixed with the step number once a step
// (splitmix64), so that a result shows whether every step ran exactly once.
// Standard library and POSIX only: it is also documentation.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kInitialState = 0x5eed'2025'0000'0007;
constexpr int kExitUsage = 2;
constexpr int kExitStopped = 128 + SIGTERM;  // 143, as if SIGTERM had killed it
constexpr int kExitLocked = 75;              // EX_TEMPFAIL: try again later

// Set by the signal handlers, read at step boundaries.
volatile std::sig_atomic_t checkpoint_requested = 0;
volatile std::sig_atomic_t stop_requested = 0;

void on_sigusr1(int) {
  checkpoint_requested = 1;
}
void on_sigterm(int) {
  stop_requested = 1;
}

struct Options {
  std::int64_t steps = 0;
  std::int64_t step_ms = 100;
  std::int64_t checkpoint_every = 0;  // 0: only when asked (SIGUSR1)
  std::optional<std::int64_t> fail_at_step;
  std::optional<std::int64_t> exit_code;
  std::string lock;
};

constexpr const char* kUsage =
    "usage: straits-train --steps N [--step-ms MS] [--checkpoint-every K]\n"
    "                     [--fail-at-step S [--exit-code C]] [--lock PATH]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "straits-train: %s\n%s", message.c_str(), kUsage);
  std::exit(kExitUsage);
}

std::int64_t parse_number(std::string_view flag, std::string_view text, std::int64_t min,
                          std::int64_t max) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    usage_error(std::string(flag) + " takes a whole number from " + std::to_string(min) + " to " +
                std::to_string(max) + ", got '" + std::string(text) + "'");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool has_steps = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("missing value after " + std::string(flag));
    const std::string_view value = argv[++i];
    constexpr std::int64_t kMax = 1'000'000'000;
    if (flag == "--steps") {
      options.steps = parse_number(flag, value, 1, kMax);
      has_steps = true;
    } else if (flag == "--step-ms") {
      options.step_ms = parse_number(flag, value, 0, kMax);
    } else if (flag == "--checkpoint-every") {
      options.checkpoint_every = parse_number(flag, value, 0, kMax);
    } else if (flag == "--fail-at-step") {
      options.fail_at_step = parse_number(flag, value, 1, kMax);
    } else if (flag == "--exit-code") {
      options.exit_code = parse_number(flag, value, 0, 255);
    } else if (flag == "--lock") {
      options.lock = value;
    } else {
      usage_error("unknown option " + std::string(flag));
    }
  }
  if (!has_steps) usage_error("--steps is required");
  if (options.exit_code && !options.fail_at_step) usage_error("--exit-code needs --fail-at-step");
  return options;
}

// One step of "training": splitmix64 of the state moved by the step number.
std::uint64_t train_step(std::uint64_t state, std::int64_t step) {
  std::uint64_t z = state + static_cast<std::uint64_t>(step) * 0x9e37'79b9'7f4a'7c15;
  z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9;
  z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11eb;
  return z ^ (z >> 31);
}

// Falls with the steps, with noise from the state.
double loss_of(std::uint64_t state, std::int64_t step) {
  const double noise = static_cast<double>(state >> 11) * 0x1.0p-53;  // [0, 1)
  return 2.0 / (1.0 + 0.25 * static_cast<double>(step)) * (0.8 + 0.4 * noise);
}

// Sleeps the whole step: a signal only sets a flag, looked at after the step.
void work_for(std::int64_t ms) {
  timespec left{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

// Writes `text` to `path` and fsyncs it. False with errno set on failure.
bool write_synced(const fs::path& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      errno = error;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = fsync(fd) == 0;
  const int error = errno;
  close(fd);
  errno = error;
  return synced;
}

// The checkpoint convention: DIR/step-NNNNNN holds the step and the state;
// then DIR/latest names it, replaced atomically (write latest.tmp, rename).
void write_checkpoint(const fs::path& dir, std::int64_t step, std::uint64_t state) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%06" PRId64, step);
  const fs::path path = dir / name;
  char text[96];
  std::snprintf(text, sizeof text,
                "straits-train checkpoint\nstep %" PRId64 "\nstate %016" PRIx64 "\n", step, state);
  const fs::path temporary = dir / "latest.tmp";
  if (!write_synced(path, text) ||
      !write_synced(temporary, path.string() + " step=" + std::to_string(step) + "\n") ||
      std::rename(temporary.c_str(), (dir / "latest").c_str()) != 0) {
    std::fprintf(stderr,
                 "straits-train: cannot write the checkpoint of step %" PRId64 " in %s: %s\n", step,
                 dir.c_str(), std::strerror(errno));
    std::exit(1);
  }
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // the rename, durable
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  std::printf("checkpoint step=%" PRId64 " path=%s\n", step, path.c_str());
}

struct Resumed {
  std::int64_t step = 0;
  std::uint64_t state = kInitialState;
};

// Reads a checkpoint written by write_checkpoint; exits 2 when it cannot.
Resumed read_checkpoint(const std::string& path, std::int64_t steps) {
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "straits-train: cannot resume from %s: %s\n", path.c_str(), why.c_str());
    std::exit(kExitUsage);
  };
  std::ifstream in(path);
  if (!in) fail(std::strerror(errno));
  std::string magic, step_word, state_word, state_hex;
  Resumed resumed;
  if (!std::getline(in, magic) || magic != "straits-train checkpoint") {
    fail("not a straits-train checkpoint");
  }
  if (!(in >> step_word >> resumed.step >> state_word >> state_hex) || step_word != "step" ||
      state_word != "state" || resumed.step < 0 || state_hex.size() != 16) {
    fail("damaged checkpoint");
  }
  auto [end, error] = std::from_chars(state_hex.data(), state_hex.data() + 16, resumed.state, 16);
  if (error != std::errc() || end != state_hex.data() + 16) fail("damaged checkpoint");
  if (resumed.step > steps) {
    fail("it is at step " + std::to_string(resumed.step) + ", past --steps " +
         std::to_string(steps));
  }
  return resumed;
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, even into a file
  const Options options = parse_options(argc, argv);

  // At most one run at a time: the lock is held until the process ends.
  if (!options.lock.empty()) {
    const int fd = open(options.lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "straits-train: cannot open %s: %s\n", options.lock.c_str(),
                   std::strerror(errno));
      return 1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      std::fprintf(stderr, "another run holds %s\n", options.lock.c_str());
      return kExitLocked;
    }
  }

  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = on_sigusr1;
  sigaction(SIGUSR1, &action, nullptr);
  action.sa_handler = on_sigterm;
  sigaction(SIGTERM, &action, nullptr);

  std::printf("gpus=%s job=%s attempt=%s\n", env_or_empty("STRAITS_GPUS").c_str(),
              env_or_empty("STRAITS_JOB_ID").c_str(), env_or_empty("STRAITS_ATTEMPT").c_str());

  const std::string checkpoint_env = env_or_empty("STRAITS_CHECKPOINT_DIR");
  const std::optional<fs::path> checkpoint_dir =
      checkpoint_env.empty() ? std::nullopt : std::optional(fs::absolute(checkpoint_env));
  if (!checkpoint_dir && options.checkpoint_every > 0) {
    std::fprintf(stderr, "straits-train: no checkpoints: STRAITS_CHECKPOINT_DIR is not set\n");
  }
  Resumed at;
  if (const std::string from = env_or_empty("STRAITS_RESUME_FROM"); !from.empty()) {
    at = read_checkpoint(from, options.steps);
    std::printf("resumed from step %" PRId64 "\n", at.step);
  }

  std::uint64_t state = at.state;
  for (std::int64_t step = at.step + 1; step <= options.steps; ++step) {
    work_for(options.step_ms);
    state = train_step(state, step);
    std::printf("step %" PRId64 "/%" PRId64 " loss %.4f\n", step, options.steps,
                loss_of(state, step));
    if (options.fail_at_step == step) {
      std::printf("failing at step %" PRId64 "\n", step);
      return static_cast<int>(options.exit_code.value_or(3));
    }
    if (stop_requested) {  // no checkpoint: the agent asks for one first when it wants one
      std::printf("stopped by SIGTERM at step %" PRId64 "\n", step);
      return kExitStopped;
    }
    const bool periodic = options.checkpoint_every > 0 && step % options.checkpoint_every == 0;
    const bool requested = checkpoint_requested != 0;
    checkpoint_requested = 0;  // a request during the writing is for the next boundary
    if (checkpoint_dir && (periodic || requested)) {
      write_checkpoint(*checkpoint_dir, step, state);
    } else if (requested) {
      std::fprintf(stderr, "straits-train: no checkpoint: STRAITS_CHECKPOINT_DIR is not set\n");
    }
  }
  std::printf("final step=%" PRId64 " result=%016" PRIx64 "\n", options.steps, state);
  return 0;
}
