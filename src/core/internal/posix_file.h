// The POSIX pieces that core/file.cc and core/private_file.cc share.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace straits::internal {

// Writes all of `text` to `fd`, retrying on EINTR; false with errno set on failure.
bool write_all(int fd, std::string_view text);

// fsyncs the folder that holds `path` (a new or renamed name is durable only
// then); best effort: a folder that cannot be opened is left as it is.
void sync_parent_folder(const std::filesystem::path& path);

// The text of an errno value.
std::string reason(int err);

}  // namespace straits::internal
