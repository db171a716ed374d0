// The state file on disk: atomic rewrites (temporary file, fsync, rename,
// fsync of the folder) and loading. The JSON itself is in codec.cc.
#include "agent/internal/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace straits::agent::internal {
namespace {

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(ErrorCode::kInternal,
               "cannot " + what + " " + path.string() + ": " + std::strerror(err));
}

// Writes all of `text` to `fd`; errno on failure.
bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Status write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("create the folder", dir, ec.value());
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create", tmp, errno);
  ::fchmod(fd, 0600);  // an older temporary file keeps its mode through O_TRUNC
  if (!write_all(fd, text) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error("write", tmp, err);
  }
  if (::close(fd) != 0) return io_error("write", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("rename " + tmp.string() + " to", path, err);
  }
  // The rename itself is durable once the folder is.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return ok();
}

Result<std::optional<AgentState>> load_state(const std::filesystem::path& path,
                                             SteadyTime steady_now, Instant wall_now) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<AgentState>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("read", path, errno);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return io_error("read", path, errno);
  auto state = state_from_text(text.str(), steady_now, wall_now);
  if (!state) return std::move(state).error().with_context(path.string());
  return std::optional<AgentState>(std::move(state).value());
}

}  // namespace straits::agent::internal
