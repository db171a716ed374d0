#include "store/bundle_json.h"

#include <nlohmann/json.hpp>

namespace straits::store {

nlohmann::json bundle_json(const AuditEvent& e) {
  return {{"seq", e.seq},
          {"at", to_iso8601(e.at)},
          {"at_us", e.at.unix_microseconds()},
          {"actor", e.actor},
          {"action", e.action},
          {"subject", e.subject},
          {"before_json", e.before_json},
          {"after_json", e.after_json},
          {"decision_json", e.decision_json},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

nlohmann::json bundle_json(const SignedHead& h) {
  return {{"seq", h.seq},
          {"hash", h.hash},
          {"at", to_iso8601(h.at)},
          {"at_us", h.at.unix_microseconds()},
          {"public_key", h.public_key},
          {"signature", h.signature}};
}

}  // namespace straits::store
