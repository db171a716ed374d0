// The server's side of signed history (issue 15): which signing key it uses
// (ServerOptions::signing_key and its defaults) and the witness file, where
// every signed head is appended outside the database.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "api/server.h"
#include "core/error.h"
#include "store/records.h"
#include "store/signing.h"

namespace straits::api::internal {

struct LoadedKey {
  std::shared_ptr<const store::SigningKey> key;
  std::string path;      // "" for a key in memory
  bool created = false;  // this start created the file
  std::string warning;   // set when the key lives in memory only
};

// The key the options name, or the default (ServerOptions::signing_key).
Result<LoadedKey> load_signing_key(const ServerOptions& options);

// An append-only file of signed heads, one JSON object a line:
// {"seq":N,"hash":"..","at_us":N,"public_key":"..","signature":".."}.
// Thread-safe.
class Witness {
 public:
  // Opens (creates) the file for appending.
  static Result<std::unique_ptr<Witness>> open(const std::filesystem::path& path);
  ~Witness();
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;

  // Appends the head and fsyncs: once it returns ok, the line is durable.
  Status append(const store::SignedHead& head);
  const std::filesystem::path& path() const { return path_; }

 private:
  Witness(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  std::mutex mutex_;
  int fd_;
  std::filesystem::path path_;
};

}  // namespace straits::api::internal
