#include "core/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "core/internal/posix_file.h"

namespace straits {

using internal::reason;

Status create_private_file(const std::filesystem::path& path, const std::string& contents) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    return Error(ErrorCode::kAlreadyExists,
                 path.string() + " exists: refusing to overwrite it (remove it first)");
  }
  // A temporary name of our own beside it; O_EXCL refuses one that exists.
  std::random_device random;
  int fd = -1;
  std::filesystem::path temp;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    temp = path;
    temp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(random());
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    return Error(ErrorCode::kUnavailable, "cannot create " + path.string() + ": " + reason(errno));
  }
  // The umask may only narrow 0600; fchmod makes it exactly 0600 on the
  // descriptor, before any byte is written.
  bool written = ::fchmod(fd, 0600) == 0 && internal::write_all(fd, contents);
  const int write_errno = errno;
  written = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(temp.c_str());
    return Error(ErrorCode::kUnavailable,
                 "cannot write " + path.string() + ": " + reason(write_errno));
  }
  // link() fails with EEXIST rather than replace: no silent overwrite, even
  // when another process created `path` meanwhile.
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(temp.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) {
      return Error(ErrorCode::kAlreadyExists,
                   path.string() + " exists: refusing to overwrite it (remove it first)");
    }
    return Error(ErrorCode::kUnavailable,
                 "cannot create " + path.string() + ": " + reason(link_errno));
  }
  // The new name is durable once its folder is synced.
  internal::sync_parent_folder(path);
  return ok();
}

Result<std::string> read_private_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                 "cannot read " + path.string() + ": " + reason(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return Error(ErrorCode::kFailedPrecondition,
                 path.string() +
                     " may be read or written by others than its owner: it holds a "
                     "secret; chmod 600 it (and ask whether it leaked)");
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace straits
