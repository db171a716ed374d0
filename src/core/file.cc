#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "core/internal/posix_file.h"

namespace straits {
namespace internal {

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

void sync_parent_folder(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string reason(int err) {
  return std::generic_category().message(err);
}

}  // namespace internal

namespace {

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(ErrorCode::kInternal,
               "cannot " + what + " " + path.string() + ": " + internal::reason(err));
}

}  // namespace

Status write_file_atomically(const std::filesystem::path& path, std::string_view text,
                             std::filesystem::perms mode) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const auto bits = static_cast<mode_t>(mode & std::filesystem::perms::mask);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, bits);
  if (fd < 0) return io_error("create", tmp, errno);
  // Exactly `mode`: the umask may have narrowed it, and an older temporary
  // file keeps its own mode through O_TRUNC.
  if (::fchmod(fd, bits) != 0 || !internal::write_all(fd, text) || ::fsync(fd) != 0) {
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
  internal::sync_parent_folder(path);
  return ok();
}

}  // namespace straits
