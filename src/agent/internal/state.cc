// The state file on disk: atomic rewrites (core/file.h) and loading. The
// JSON itself is in codec.cc.
#include "agent/internal/state.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/file.h"

namespace straits::agent::internal {
namespace {

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(ErrorCode::kInternal,
               "cannot " + what + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

Status write_state_file(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("create the folder", dir, ec.value());
  using std::filesystem::perms;
  return write_file_atomically(path, text, perms::owner_read | perms::owner_write);
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
