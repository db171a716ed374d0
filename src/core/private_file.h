// Files that hold secrets (tokens, signing keys): created readable by their
// owner only, whole, and never over an existing file.
#pragma once

#include <filesystem>
#include <string>

#include "core/error.h"

namespace straits {

// Writes `contents` to a new file at `path` with mode 0600. Atomic: the
// contents go to a temporary file beside it, opened O_CREAT|O_EXCL with mode
// 0600 (never a wider mode, not even for a moment), synced, then linked to
// `path`, which fails if `path` exists. So a reader sees no file or the whole
// file, and an existing file is never overwritten.
// Errors: AlreadyExists when `path` exists; Unavailable when it cannot be
// written (the message names the path and the reason).
Status create_private_file(const std::filesystem::path& path, const std::string& contents);

// Reads a secret file; FailedPrecondition when others than its owner may read
// or write it (mode & 077), as ssh refuses such keys: a secret others could
// read is not one. NotFound when it does not exist.
Result<std::string> read_private_file(const std::filesystem::path& path);

}  // namespace straits
