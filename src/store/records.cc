#include "store/records.h"

#include <sodium.h>

#include <array>

#include "store/store.h"

namespace straits::store {
namespace {

// libsodium must be initialised once before use; sodium_init() is safe to
// call from several threads and again (it returns 1 then).
bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

// "LENGTH:BYTES": a field can hold any byte (':' included) and still no two
// different sequences of fields encode the same.
void add_field(crypto_hash_sha256_state& state, std::string_view field) {
  const std::string prefix = std::to_string(field.size()) + ":";
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(prefix.data()),
                            prefix.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(field.data()),
                            field.size());
}

std::string range(std::int64_t first, std::int64_t last) {
  return first == last ? "event " + std::to_string(first)
                       : "events " + std::to_string(first) + ".." + std::to_string(last);
}

}  // namespace

// The hashed bytes are, in order, each as "LENGTH:BYTES" (LENGTH in decimal):
// prev_hash, seq (decimal), at (unix microseconds, decimal), actor, action,
// subject, before_json, after_json, decision_json. The hash is their SHA-256
// in lower-case hex.
std::string audit_hash(const AuditEvent& event) {
  if (!sodium_ready()) return {};  // never equal to a stored hash: verify reports it
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  add_field(state, event.prev_hash);
  add_field(state, std::to_string(event.seq));
  add_field(state, std::to_string(event.at.unix_microseconds()));
  add_field(state, event.actor);
  add_field(state, event.action);
  add_field(state, event.subject);
  add_field(state, event.before_json);
  add_field(state, event.after_json);
  add_field(state, event.decision_json);
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&state, digest.data());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), crypto_hash_sha256_BYTES * 2);
}

// Each event is checked against its own contents (its hash) and against the
// event before it in the list (its seq follows, its prev_hash is that one's
// hash). A removed last event leaves a chain that verifies: `head` and
// `events` are returned so that an auditor compares them with a head
// recorded earlier (the chain may only have grown from it).
AuditVerification verify_audit_chain(const std::vector<AuditEvent>& events) {
  AuditVerification v;
  v.events = static_cast<std::int64_t>(events.size());
  v.head = events.empty() ? kAuditGenesis : events.back().hash;
  const AuditEvent* prev = nullptr;
  for (const AuditEvent& e : events) {
    const std::string n = std::to_string(e.seq);
    if (audit_hash(e) != e.hash) {
      v.problems.push_back("event " + n + ": hash does not match its contents (altered)");
    }
    const std::int64_t expected = prev ? prev->seq + 1 : 1;
    if (e.seq == expected) {
      const std::string& link = prev ? prev->hash : std::string(kAuditGenesis);
      if (e.prev_hash != link) {
        v.problems.push_back(
            "event " + n + ": prev_hash is not " +
            (prev ? "event " + std::to_string(prev->seq) + "'s hash" : std::string("the genesis")) +
            " (an event before it was altered, removed or inserted)");
      }
    } else if (e.seq > expected) {
      v.problems.push_back(range(expected, e.seq - 1) + " missing: " +
                           (prev ? std::to_string(prev->seq) + " is followed by " + n
                                 : std::string("the chain starts at ") + n) +
                           " (removed)");
    } else if (prev) {
      v.problems.push_back("event " + n + ": comes after event " + std::to_string(prev->seq) +
                           " (inserted or reordered)");
    } else {
      v.problems.push_back("event " + n + ": the chain starts at it, not at 1 (inserted)");
    }
    prev = &e;
  }
  return v;
}

}  // namespace straits::store
