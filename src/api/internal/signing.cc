#include "api/internal/signing.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <system_error>

namespace straits::api::internal {

Result<LoadedKey> load_signing_key(const ServerOptions& options) {
  LoadedKey loaded;
  std::filesystem::path path;
  if (options.signing_key) {
    path = *options.signing_key;
  } else if (options.store.kind == store::StoreUrl::Kind::kSqlite &&
             options.store.target != ":memory:") {
    // Beside the store, as its lock file is: found again at every start.
    path = options.store.target + ".signing-key";
  } else {
    auto key = store::SigningKey::generate();
    if (!key) return std::move(key).error();
    loaded.key = std::make_shared<const store::SigningKey>(std::move(key).value());
    if (options.store.kind == store::StoreUrl::Kind::kPostgres) {
      loaded.warning =
          "no signing key file given (--signing-key): the audit chain's heads are signed by a "
          "key that dies with this process";
    }
    return loaded;
  }
  bool created = false;
  auto key = store::SigningKey::load_or_create(path, &created);
  if (!key) return Error(key.error().code(), "signing key: " + key.error().message());
  loaded.key = std::make_shared<const store::SigningKey>(std::move(key).value());
  loaded.path = path.string();
  loaded.created = created;
  return loaded;
}

Result<std::unique_ptr<Witness>> Witness::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error(ErrorCode::kUnavailable,
                 "witness file " + path.string() + ": " + std::generic_category().message(errno));
  }
  return std::unique_ptr<Witness>(new Witness(fd, path));
}

Witness::~Witness() {
  ::close(fd_);
}

Status Witness::append(const store::SignedHead& head) {
  const std::string line = nlohmann::json{{"seq", head.seq},
                                          {"hash", head.hash},
                                          {"at_us", head.at.unix_microseconds()},
                                          {"public_key", head.public_key},
                                          {"signature", head.signature}}
                               .dump() +
                           "\n";
  std::lock_guard lock(mutex_);
  // O_APPEND: one write() of a short line lands whole at the end.
  for (std::size_t at = 0; at < line.size();) {
    const ssize_t n = ::write(fd_, line.data() + at, line.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Error(ErrorCode::kUnavailable, "witness file " + path_.string() + ": " +
                                                std::generic_category().message(errno));
    }
    at += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    return Error(ErrorCode::kUnavailable,
                 "witness file " + path_.string() + ": " + std::generic_category().message(errno));
  }
  return ok();
}

}  // namespace straits::api::internal
