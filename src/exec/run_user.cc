#include "exec/run_user.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <system_error>
#include <vector>

namespace straits::exec {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Runs argv (an absolute path) with an empty environment; its stderr and
// stdout, at most 4 KiB, in `output`. The exit status as waitpid gives it.
Result<int> run_quietly(const std::vector<std::string>& argv, std::string& output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error(ErrorCode::kInternal, "pipe: " + errno_text(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  char* no_env[] = {nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), no_env);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return Error(ErrorCode::kFailedPrecondition,
                 "cannot run " + argv[0] + ": " + errno_text(spawned));
  }
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 4096) output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error(ErrorCode::kInternal, "waitpid: " + errno_text(errno));
  }
  return status;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string octal(fs::perms perms) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(perms) & 07777U);
  return text;
}

}  // namespace

Result<RunUser> find_run_user(const std::string& name) {
  if (name.empty()) return Error(ErrorCode::kInvalidArgument, "no run user named");
  std::vector<char> buffer(16384);
  struct passwd entry {};
  struct passwd* found = nullptr;
  const int error = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0) {
    return Error(ErrorCode::kInternal, "cannot look up user " + name + ": " + errno_text(error));
  }
  if (found == nullptr) return Error(ErrorCode::kNotFound, "no Unix user " + name);
  if (entry.pw_uid == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "user " + name + " is root (uid 0): jobs never run as root");
  }
  RunUser user;
  user.name = name;
  user.uid = entry.pw_uid;
  user.gid = entry.pw_gid;
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(name.c_str(), entry.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(name.c_str(), entry.pw_gid, groups.data(), &count) < 0) count = 0;
  }
  groups.resize(static_cast<std::size_t>(count));
  for (gid_t group : groups) {
    if (group == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "user " + name + " is in group root (gid 0): not a run user");
    }
    user.groups.push_back(group);
  }
  if (user.groups.empty()) user.groups.push_back(user.gid);
  return user;
}

Result<RunUser> ensure_run_user(const std::string& name) {
  Result<RunUser> user = find_run_user(name);
  if (user || user.error().code() != ErrorCode::kNotFound) return user;
  if (!running_as_root()) {
    return Error(ErrorCode::kFailedPrecondition,
                 "no Unix user " + name + ", and only root can create it");
  }
  std::string output;
  STRAITS_ASSIGN_OR_RETURN(
      int status, run_quietly({"/usr/sbin/useradd", "--system", "--no-create-home", "--user-group",
                               "--shell", "/usr/sbin/nologin", name},
                              output));
  // 9: it exists (another agent made it meanwhile).
  const bool made = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 9);
  if (!made) {
    return Error(ErrorCode::kFailedPrecondition,
                 "cannot create run user " + name + " (useradd): " + trimmed(output));
  }
  return find_run_user(name);
}

std::string org_run_user(std::string_view org) {
  std::string name = "st-";
  for (char c : org) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool fine =
        (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') || lower == '-';
    name += fine ? lower : '-';
  }
  // Two ids may map to one name ("A_b", "a-b"), or be too long: then a hash
  // of the id keeps them apart.
  const bool exact = name.size() <= 32 && name.substr(3) == org;
  if (exact) return name;
  std::uint32_t hash = 2166136261U;  // FNV-1a
  for (char c : org) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  char suffix[10];
  std::snprintf(suffix, sizeof suffix, "-%08x", hash);
  name.resize(std::min<std::size_t>(name.size(), 32 - 9));
  return name + suffix;
}

bool running_as_root() {
  return ::geteuid() == 0;
}

Status prepare_agent_folder(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kInternal, "cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms(0711), ec);
  if (ec) return Error(ErrorCode::kInternal, "cannot chmod " + dir.string() + ": " + ec.message());
  return ok();
}

Status prepare_run_folder(const fs::path& dir, const std::optional<RunUser>& user) {
  STRAITS_TRY(prepare_agent_folder(dir.parent_path()));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(ErrorCode::kInternal, "cannot create " + dir.string() + ": " + errno_text(errno));
  }
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Error(ErrorCode::kInternal, dir.string() + " is not a folder");
  }
  if (user && ::lchown(dir.c_str(), user->uid, user->gid) != 0) {
    return Error(ErrorCode::kInternal,
                 "cannot give " + dir.string() + " to " + user->name + ": " + errno_text(errno));
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Error(ErrorCode::kInternal, "cannot chmod " + dir.string() + ": " + errno_text(errno));
  }
  return ok();
}

Status check_reachable_by_runs(const fs::path& dir) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(dir, ec).lexically_normal();
  if (ec)
    return Error(ErrorCode::kInternal, "cannot resolve " + dir.string() + ": " + ec.message());
  for (fs::path at = absolute.parent_path();; at = at.parent_path()) {
    const fs::file_status status = fs::status(at, ec);
    if (!ec && (status.permissions() & fs::perms::others_exec) == fs::perms::none) {
      return Error(ErrorCode::kFailedPrecondition,
                   "runs execute as another user and cannot reach " + dir.string() + ": " +
                       at.string() + " has mode " + octal(status.permissions()) +
                       " (it needs o+x, e.g. 0711)");
    }
    if (at == at.root_path() || at.empty()) break;
  }
  return ok();
}

}  // namespace straits::exec
