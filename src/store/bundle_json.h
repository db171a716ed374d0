// An audit event and a signed head as a bundle carries them (format
// "straits-audit-bundle/1", docs/operations.md): the stored texts byte for
// byte, so that `straits audit verify-bundle` re-hashes exactly what was
// chained. Written by the CLI (`straits audit export`) and by the server
// (GET /v1/audit/export); one definition, so the two never drift apart.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "store/records.h"

namespace straits::store {

nlohmann::json bundle_json(const AuditEvent& event);
nlohmann::json bundle_json(const SignedHead& head);

}  // namespace straits::store
