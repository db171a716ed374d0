#include "exec/backend.h"

#include <cerrno>
#include <cstring>
#include <fstream>
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

// At most `max_bytes` of `file` from `offset`; "" when the file is missing or
// shorter than `offset`.
std::string read_range(const fs::path& file, std::uint64_t offset, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in || max_bytes == 0) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) return {};
  std::string out(max_bytes, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max_bytes));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

}  // namespace

std::string read_output(const fs::path& work_dir, std::uint64_t offset, std::size_t max_bytes) {
  return read_range(output_file(work_dir), offset, max_bytes);
}

std::string output_tail(const fs::path& work_dir, std::size_t max_bytes) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(output_file(work_dir), ec);
  if (ec) return {};
  const std::uint64_t offset = size > max_bytes ? size - max_bytes : 0;
  return read_range(output_file(work_dir), offset, max_bytes);
}

Result<std::optional<Checkpoint>> read_latest_checkpoint(const fs::path& dir) {
  const fs::path latest = dir / "latest";
  std::error_code ec;
  const fs::file_status status = fs::status(latest, ec);
  if (status.type() == fs::file_type::not_found) return std::optional<Checkpoint>();
  if (ec)
    return Error(ErrorCode::kInternal, "cannot read " + latest.string() + ": " + ec.message());
  if (!fs::is_regular_file(status)) {
    return Error(ErrorCode::kInternal, "cannot read " + latest.string() + ": not a regular file");
  }
  std::ifstream in(latest);
  std::string line;
  if (!in || !std::getline(in, line)) {
    const int err = errno;
    if (in.eof() && line.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   latest.string() + " is empty: it must hold a checkpoint's path");
    }
    return Error(ErrorCode::kInternal,
                 "cannot read " + latest.string() + ": " + std::strerror(err));
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
