// Files rewritten whole: a reader sees the old contents or the new ones,
// never a mix, and the new ones survive a crash once the call returns.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/error.h"

namespace straits {

// Replaces `path` with `text` atomically and durably: a temporary file beside
// it (`path` + ".tmp", created with exactly `mode`), written, fsynced, renamed
// over `path`, then the folder fsynced so that the rename survives a crash.
// The folder must exist. Errors: Internal, the message naming the file and
// the reason.
Status write_file_atomically(const std::filesystem::path& path, std::string_view text,
                             std::filesystem::perms mode);

}  // namespace straits
