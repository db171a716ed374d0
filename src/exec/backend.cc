#include "exec/backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <system_error>

namespace straits::exec {

namespace fs = std::filesystem;

std::string_view to_string(RunState state) {
  // The same words as the `outcome` of an `exited` report (docs/agents.md).
  switch (state) {
    case RunState::kPending: return "pending";
    case RunState::kRunning: return "running";
    case RunState::kSucceeded: return "succeeded";
    case RunState::kFailed: return "failed";
    case RunState::kCancelled: return "cancelled";
    case RunState::kTimedOut: return "timed_out";
    case RunState::kNodeFailure: return "node_failure";
    case RunState::kLost: return "lost";
  }
  return "unknown";
}

bool is_final(RunState state) {
  return state != RunState::kPending && state != RunState::kRunning;
}

namespace {

fs::path output_file(const fs::path& work_dir) {
  return work_dir / "output.log";
}

// A file of a run's folder, opened for reading. The run owns the folder and
// may have put a symbolic link (to the agent's token, a root-only file) or a
// FIFO (to block the agent) in the file's place: neither is followed or
// opened, and -1 is returned as for a missing file.
int open_run_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// At most `max_bytes` of `file` from `offset`; "" when the file is missing,
// not a regular file or shorter than `offset`.
std::string read_range(const fs::path& file, std::uint64_t offset, std::size_t max_bytes) {
  if (max_bytes == 0) return {};
  const int fd = open_run_file(file);
  if (fd < 0) return {};
  std::string out(max_bytes, '\0');
  std::size_t got = 0;
  while (got < max_bytes) {
    const ssize_t n =
        ::pread(fd, out.data() + got, max_bytes - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

std::string read_output(const fs::path& work_dir, std::uint64_t offset, std::size_t max_bytes) {
  return read_range(output_file(work_dir), offset, max_bytes);
}

std::string output_tail(const fs::path& work_dir, std::size_t max_bytes) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(output_file(work_dir), ec);
  if (ec || !fs::is_regular_file(status)) return {};
  const std::uintmax_t size = fs::file_size(output_file(work_dir), ec);
  if (ec) return {};
  const std::uint64_t offset = size > max_bytes ? size - max_bytes : 0;
  return read_range(output_file(work_dir), offset, max_bytes);
}

Result<std::vector<std::pair<std::string, std::string>>> run_environment(
    const LaunchSpec& spec, const fs::path& work_dir, const fs::path& checkpoint_dir) {
  // The allow-list: nothing of the agent's environment (its token may be
  // there) and what a job needs to find programs and its own folders.
  std::map<std::string, std::string> named = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"LANG", "C.UTF-8"},
      {"TZ", "UTC"},
  };
  for (const auto& [name, value] : spec.env) {
    if (!is_env_name(name)) {
      return Error(ErrorCode::kInvalidArgument,
                   "environment variable name '" + name + "' is not [A-Za-z_][A-Za-z0-9_]*");
    }
    if (value.find('\0') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, "a NUL character in environment variable " + name);
    }
    named[name] = value;
  }
  // Last: these say where the run is and what it resumes; the job cannot move them.
  named["HOME"] = work_dir.string();
  named["STRAITS_JOB_ID"] = spec.job_id;
  named["STRAITS_ATTEMPT"] = std::to_string(spec.attempt);
  named["STRAITS_CHECKPOINT_DIR"] = checkpoint_dir.string();
  named["STRAITS_RESUME_FROM"] = spec.resume_from;
  named["STRAITS_GPUS"] = std::to_string(spec.gpus);
  return std::vector<std::pair<std::string, std::string>>(named.begin(), named.end());
}

Status check_safe_name(std::string_view what, std::string_view text) {
  auto shown = [&text] {
    std::string out;
    for (char c : text.substr(0, 64)) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7f || c == '\\' || c == '\'') {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", byte);
        out += hex;
      } else {
        out += c;
      }
    }
    return "'" + out + (text.size() > 64 ? "...'" : "'");
  };
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, std::string(what) + " " + shown() + " " + why);
  };
  if (text.empty()) return bad("is empty");
  if (text.size() > 128) return bad("is longer than 128 characters");
  if (text == "." || text == "..") return bad("is a relative folder name");
  if (text[0] == '-' || text[0] == '.') return bad("starts with '" + std::string(1, text[0]) + "'");
  for (char c : text) {
    const bool fine = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    if (!fine) return bad("holds a character other than letters, digits, '.', '_' and '-'");
  }
  return ok();
}

Result<std::optional<Checkpoint>> read_latest_checkpoint(const fs::path& dir) {
  const fs::path latest = dir / "latest";
  std::error_code ec;
  // Not followed when it is a link: the run owns the folder (see open_run_file).
  const fs::file_status status = fs::symlink_status(latest, ec);
  if (status.type() == fs::file_type::not_found) return std::optional<Checkpoint>();
  if (ec)
    return Error(ErrorCode::kInternal, "cannot read " + latest.string() + ": " + ec.message());
  if (!fs::is_regular_file(status)) {
    return Error(ErrorCode::kInternal, "cannot read " + latest.string() + ": not a regular file");
  }
  // The first line, at most 4 KiB of it.
  const std::string head = read_range(latest, 0, 4096);
  std::string line = head.substr(0, head.find('\n'));
  if (line.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 latest.string() + " is empty: it must hold a checkpoint's path");
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.pop_back();
  }
  const std::size_t space = line.find(' ');
  const std::string named = line.substr(0, space);
  if (named.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 latest.string() + " does not start with a checkpoint's path: '" + line + "'");
  }
  Checkpoint checkpoint;
  if (space != std::string::npos) checkpoint.note = line.substr(space + 1);
  fs::path path = named;
  if (path.is_relative()) path = dir / path;
  path = fs::absolute(path, ec).lexically_normal();
  if (ec) return Error(ErrorCode::kInternal, "cannot resolve " + named + ": " + ec.message());
  if (!fs::exists(path, ec)) {
    return Error(ErrorCode::kNotFound,
                 latest.string() + " names " + path.string() + ", which does not exist");
  }
  checkpoint.path = path.string();
  return std::optional<Checkpoint>(std::move(checkpoint));
}

}  // namespace straits::exec
