#include "store/records.h"

#include <sodium.h>

#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <tuple>

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

std::string hex_of(const crypto_hash_sha256_state& done) {
  crypto_hash_sha256_state state = done;
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&state, digest.data());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), crypto_hash_sha256_BYTES * 2);
}

std::string micros(Instant t) {
  return std::to_string(t.unix_microseconds());
}
std::string micros(const std::optional<Instant>& t) {
  return t ? micros(*t) : std::string();
}

// Exactly `size` bytes of hex into `out`; false when it is not that.
bool from_hex(const std::string& hex, unsigned char* out, std::size_t size) {
  if (hex.size() != size * 2) return false;
  std::size_t written = 0;
  return sodium_hex2bin(out, size, hex.data(), hex.size(), nullptr, &written, nullptr) == 0 &&
         written == size;
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

std::string head_message(std::int64_t seq, const std::string& hash, Instant at) {
  std::string out;
  for (const std::string& field :
       {std::string("straits-audit-head-v1"), std::to_string(seq), hash, micros(at)}) {
    out += std::to_string(field.size()) + ":" + field;
  }
  return out;
}

bool head_signature_valid(const SignedHead& head) {
  if (!sodium_ready()) return false;
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> key{};
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  if (!from_hex(head.public_key, key.data(), key.size()) ||
      !from_hex(head.signature, signature.data(), signature.size())) {
    return false;
  }
  const std::string message = head_message(head.seq, head.hash, head.at);
  return crypto_sign_verify_detached(signature.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

std::string record_digest(const LeaseRecord& l) {
  if (!sodium_ready()) return {};
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  for (const std::string& field :
       {std::string("lease"), l.id, l.org, l.pool, std::to_string(l.gpus), micros(l.start),
        micros(l.end), std::to_string(l.price_micros), l.state, micros(l.created_at), l.created_by,
        micros(l.terminated_at), l.decision_json}) {
    add_field(state, field);
  }
  return hex_of(state);
}

std::string record_digest(const JobRecord& j) {
  if (!sodium_ready()) return {};
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  add_field(state, "job");
  for (const std::string* field :
       {&j.id, &j.org, &j.team, &j.state, &j.spec_json, &j.placement_json, &j.decision_json}) {
    add_field(state, *field);
  }
  for (const std::string& field :
       {micros(j.submitted_at), j.submitted_by, micros(j.updated_at), j.run_json}) {
    add_field(state, field);
  }
  return hex_of(state);
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

namespace {

// Reads the after_json of a state digest event: {"leases":[["ID","DIGEST"],
// ...],"jobs":[...]} as store.cc writes it (JSON strings with \", \\ and
// \uXXXX escapes). nullopt when it is not that shape.
struct DigestReader {
  const std::string& text;
  std::size_t at = 0;

  void space() {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
  }
  bool eat(char c) {
    space();
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (at < text.size() && text[at] != '"') {
      char c = text[at++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at >= text.size()) return std::nullopt;
      c = text[at++];
      if (c == 'u') {
        if (at + 4 > text.size()) return std::nullopt;
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
          const char h = text[at++];
          code = code * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h))
                                                       ? h - '0'
                                                       : (std::tolower(h) - 'a' + 10));
        }
        if (code >= 0x80) return std::nullopt;  // never written so
        out += static_cast<char>(code);
      } else if (c == '"' || c == '\\' || c == '/') {
        out += c;
      } else {
        return std::nullopt;
      }
    }
    if (at >= text.size()) return std::nullopt;
    ++at;
    return out;
  }
};

using Digests = std::vector<std::tuple<std::string, std::string, std::string>>;  // kind, id, digest

std::optional<Digests> read_digests(const std::string& text) {
  DigestReader r{text};
  Digests out;
  if (!r.eat('{')) return std::nullopt;
  bool first_key = true;
  while (!r.eat('}')) {
    if (!first_key && !r.eat(',')) return std::nullopt;
    first_key = false;
    auto key = r.string();
    if (!key || (*key != "leases" && *key != "jobs") || !r.eat(':') || !r.eat('[')) {
      return std::nullopt;
    }
    const std::string kind = *key == "leases" ? "lease" : "job";
    bool first = true;
    while (!r.eat(']')) {
      if (!first && !r.eat(',')) return std::nullopt;
      first = false;
      if (!r.eat('[')) return std::nullopt;
      auto id = r.string();
      if (!id || !r.eat(',')) return std::nullopt;
      auto digest = r.string();
      if (!digest || !r.eat(']')) return std::nullopt;
      out.emplace_back(kind, *id, *digest);
    }
  }
  r.space();
  if (r.at != text.size()) return std::nullopt;
  return out;
}

// One source of heads (the store's table, or a witness file) against the chain.
void check_heads(const std::map<std::int64_t, const AuditEvent*>& by_seq, std::int64_t last_seq,
                 const std::vector<SignedHead>& heads, std::string& key, const std::string& what,
                 bool report_unsigned_tail, AuditVerification& v) {
  std::int64_t last_good = 0, last_valid = 0;
  std::optional<std::int64_t> first_bad, first_beyond, last_beyond;
  std::size_t later_bad = 0;
  for (const SignedHead& h : heads) {
    ++v.signed_heads;
    const std::string where = what + " at event " + std::to_string(h.seq);
    if (!head_signature_valid(h)) {
      v.problems.push_back(where + ": its signature does not verify (altered or forged)");
      continue;
    }
    if (key.empty()) key = h.public_key;
    if (h.public_key != key) {
      v.problems.push_back(where + ": signed by another key (" + h.public_key.substr(0, 16) +
                           "...) than " + key.substr(0, 16) + "...");
      continue;
    }
    last_valid = std::max(last_valid, h.seq);
    if (h.seq > last_seq) {
      if (!first_beyond) first_beyond = h.seq;
      last_beyond = h.seq;
      continue;
    }
    auto e = by_seq.find(h.seq);
    if (e == by_seq.end()) continue;  // a removed middle event: verify_audit_chain reports it
    if (e->second->hash == h.hash) {
      if (!first_bad) last_good = h.seq;
    } else if (!first_bad) {
      first_bad = h.seq;
    } else {
      ++later_bad;
    }
  }
  if (first_bad) {
    v.problems.push_back(
        "event " + std::to_string(*first_bad) + ": its hash differs from the " + what +
        " for it: the chain was re-hashed or altered from " +
        (last_good + 1 == *first_bad
             ? "event " + std::to_string(*first_bad)
             : "an event in " + std::to_string(last_good + 1) + ".." + std::to_string(*first_bad)) +
        " on" +
        (later_bad > 0 ? " (" + std::to_string(later_bad) + " later heads differ too)" : ""));
  }
  if (first_beyond) {
    v.problems.push_back(what + (*first_beyond == *last_beyond ? " at event " : "s at events ") +
                         (*first_beyond == *last_beyond ? std::to_string(*last_beyond)
                                                        : std::to_string(*first_beyond) + ".." +
                                                              std::to_string(*last_beyond)) +
                         " beyond the chain's last event " + std::to_string(last_seq) +
                         ": events " + std::to_string(last_seq + 1) + ".." +
                         std::to_string(*last_beyond) + " were removed (a cut tail)");
  }
  if (report_unsigned_tail && last_valid > 0 && last_valid < last_seq) {
    v.problems.push_back("events " + std::to_string(last_valid + 1) + ".." +
                         std::to_string(last_seq) + " come after the last " + what + " (event " +
                         std::to_string(last_valid) +
                         "): appended without the signing key, or their heads were removed");
  }
}

}  // namespace

void verify_signed_heads(const std::vector<AuditEvent>& events,
                         const std::vector<SignedHead>& heads, const std::string& public_key,
                         const std::vector<SignedHead>* witness, AuditVerification& v) {
  std::map<std::int64_t, const AuditEvent*> by_seq;
  for (const AuditEvent& e : events) by_seq.emplace(e.seq, &e);
  const std::int64_t last_seq = events.empty() ? 0 : events.back().seq;
  std::string key = public_key;
  check_heads(by_seq, last_seq, heads, key, "signed head", true, v);
  if (witness) check_heads(by_seq, last_seq, *witness, key, "witness head", false, v);
}

std::vector<std::string> verify_state(const std::vector<AuditEvent>& events,
                                      const std::vector<LeaseRecord>& leases,
                                      const std::vector<JobRecord>& jobs) {
  std::vector<std::string> problems;
  // kind -> id -> (digest, seq of the event that recorded it)
  std::map<std::string, std::map<std::string, std::pair<std::string, std::int64_t>>> recorded;
  for (const AuditEvent& e : events) {
    if (e.action != kStateDigestAction || e.actor != "system") continue;
    auto digests = read_digests(e.after_json);
    if (!digests) {
      problems.push_back("event " + std::to_string(e.seq) + ": a state digest that cannot be read");
      continue;
    }
    for (auto& [kind, id, digest] : *digests) recorded[kind][id] = {digest, e.seq};
  }
  auto compare = [&](const std::string& kind, const std::string& id, const std::string& digest) {
    auto& of_kind = recorded[kind];
    auto it = of_kind.find(id);
    if (it == of_kind.end()) {
      problems.push_back(kind + " " + id +
                         ": the audit chain never recorded it (written around the server)");
      return;
    }
    if (it->second.first != digest) {
      problems.push_back(kind + " " + id +
                         ": differs from what the audit chain recorded at event " +
                         std::to_string(it->second.second) + " (changed around the server)");
    }
    of_kind.erase(it);
  };
  for (const LeaseRecord& l : leases) compare("lease", l.id, record_digest(l));
  for (const JobRecord& j : jobs) compare("job", j.id, record_digest(j));
  for (const auto& [kind, ids] : recorded) {
    for (const auto& [id, last] : ids) {
      problems.push_back(kind + " " + id + ": recorded by the audit chain at event " +
                         std::to_string(last.second) +
                         " but missing from the table (deleted around the server)");
    }
  }
  return problems;
}

}  // namespace straits::store
