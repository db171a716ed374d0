#include "store/signing.h"

#include <sodium.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "core/private_file.h"

namespace straits::store {
namespace {

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  std::string hex(size * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, size);
  hex.pop_back();
  return hex;
}

bool is_hex(const std::string& text, std::size_t size) {
  if (text.size() != size) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string first_word(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  in >> word;
  return word;
}

}  // namespace

Result<SigningKey> SigningKey::from_seed(const unsigned char* seed) {
  if (sodium_init() < 0) return Error(ErrorCode::kInternal, "libsodium could not be initialised");
  SigningKey key;
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pub{};
  crypto_sign_seed_keypair(pub.data(), key.secret_.data(), seed);
  key.public_hex_ = to_hex(pub.data(), pub.size());
  return key;
}

Result<SigningKey> SigningKey::generate() {
  if (sodium_init() < 0) return Error(ErrorCode::kInternal, "libsodium could not be initialised");
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  randombytes_buf(seed.data(), seed.size());
  auto key = from_seed(seed.data());
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Result<SigningKey> SigningKey::load_or_create(const std::filesystem::path& path, bool* created) {
  if (created) *created = false;
  auto text = read_private_file(path);
  if (!text && text.error().code() == ErrorCode::kNotFound) {
    auto key = generate();
    if (!key) return key;
    const std::string seed = to_hex(key->secret_.data(), crypto_sign_SEEDBYTES);
    STRAITS_TRY(create_private_file(path, seed + "\n"));
    if (created) *created = true;
    return key;
  }
  if (!text) return std::move(text).error();
  const std::string hex = first_word(*text);
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  std::size_t written = 0;
  if (hex.size() != seed.size() * 2 ||
      sodium_hex2bin(seed.data(), seed.size(), hex.data(), hex.size(), nullptr, &written,
                     nullptr) != 0 ||
      written != seed.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 path.string() + ": not a straits signing key (one line: 64 hex digits)");
  }
  auto key = from_seed(seed.data());
  sodium_memzero(seed.data(), seed.size());
  return key;
}

SignedHead SigningKey::sign_head(std::int64_t seq, const std::string& hash, Instant at) const {
  SignedHead head{seq, hash, at, public_hex_, ""};
  const std::string message = head_message(seq, hash, at);
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_.data());
  head.signature = to_hex(signature.data(), signature.size());
  return head;
}

Result<std::string> read_public_key(const std::string& hex_or_path) {
  if (is_hex(hex_or_path, crypto_sign_PUBLICKEYBYTES * 2)) return hex_or_path;
  std::ifstream in(hex_or_path);
  if (!in) {
    return Error(ErrorCode::kInvalidArgument,
                 "public key '" + hex_or_path +
                     "' is neither 64 hex digits nor a readable file holding them");
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string hex = first_word(text.str());
  if (!is_hex(hex, crypto_sign_PUBLICKEYBYTES * 2)) {
    return Error(ErrorCode::kInvalidArgument,
                 hex_or_path + ": not a public key (64 hex digits expected)");
  }
  return hex;
}

}  // namespace straits::store
