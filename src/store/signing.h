// The server's signing key (issue 15): an Ed25519 key pair (libsodium) that
// signs the audit chain's head at each commit (records.h: SignedHead). It is
// kept in a file of its own, outside the database, so that whoever can write
// the database cannot sign a rewritten history.
//
// The file holds one line: the 32-byte seed in hex (the key pair is derived
// from it). It is created with mode 0600 and refused when others may read it.
#pragma once

#include <array>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/time.h"
#include "store/records.h"

namespace straits::store {

class SigningKey {
 public:
  // A new random key, in memory only (tests; an in-memory store).
  static Result<SigningKey> generate();
  // Reads the key at `path`; when there is no file there, creates one (mode
  // 0600, atomically, never over an existing file) and sets *created.
  // Errors name the path: unreadable, readable by others, malformed.
  static Result<SigningKey> load_or_create(const std::filesystem::path& path, bool* created);

  // Hex of the 32-byte public key: what an auditor is given to verify with.
  const std::string& public_key() const { return public_hex_; }
  // The head (seq, hash) signed now: at = `at`.
  SignedHead sign_head(std::int64_t seq, const std::string& hash, Instant at) const;

 private:
  static Result<SigningKey> from_seed(const unsigned char* seed);
  std::array<unsigned char, 64> secret_{};  // libsodium's secret key: seed then public key
  std::string public_hex_;
};

// A public key given by an auditor: the hex itself, or a file holding it
// (the first word of its text). InvalidArgument when it is neither.
Result<std::string> read_public_key(const std::string& hex_or_path);

}  // namespace straits::store
