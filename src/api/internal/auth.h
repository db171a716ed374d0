// Bearer tokens and who may do what.
//
// A token is "st_" and 43 characters of base64url: 256 random bits from
// libsodium. The server keeps only its SHA-256 (hex), so a stolen database
// holds no usable token; a token is shown once, when it is made.
//
// Roles (docs/api.md has the matrix): admin does everything; auditor reads
// everything, the audit log included, and changes nothing; operator-admin
// manages its operator's sites and pools and the leases on them;
// tenant-admin manages its org (leases, jobs, datasets, its users);
// engineer submits and cancels its org's jobs and reads the rest of its org;
// compliance reads what an auditor reads and is the checker of compliance
// facts (it changes them directly and approves or rejects the change
// requests of tenants and operators); agent is a site agent's own
// credential, bound to sites: it registers agents for those sites, then
// heartbeats, takes assignments and reports for the agents it registered,
// and every other route answers it 403 (confine_agents).
// What another tenant owns is answered 404, as if it did not exist: its
// existence is not leaked. What a role may never do is answered 403.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/internal/http.h"
#include "api/internal/world.h"

namespace straits::api::internal {

inline constexpr const char* kRoles[] = {"admin",   "operator-admin", "tenant-admin", "engineer",
                                         "auditor", "compliance",     "agent"};
bool is_role(std::string_view role);

std::string new_token_secret();
std::string token_hash(std::string_view secret);
// Lower-case hex of the SHA-256 of `bytes` (libsodium): token hashes, rule
// set content hashes, catalog fingerprints.
std::string sha256_hex(std::string_view bytes);

// The caller of a request with header "Authorization: Bearer <token>"
// (401 when absent, unknown, revoked or its user retired). World locked.
Principal authenticate(const World& world, const std::string& authorization);

// 403 unless the caller has one of the roles.
void require_role(const Principal& who, std::initializer_list<std::string_view> roles,
                  std::string_view doing);
// 403 for the auditor, compliance and agent roles: they change nothing
// through the general routes (compliance changes facts through the catalog
// and change-request routes, which check it themselves).
void require_writer(const Principal& who, std::string_view doing);
// Whether the caller reads everything (admin, auditor, compliance).
bool reads_all(const Principal& who);

// The routes an agent token may call; every other route answers it 403
// before its handler runs. Wraps the handlers of `routes` (all_routes()).
struct Route;
void confine_agents(std::vector<Route>& routes);
// The sites an agent-role caller is bound to (empty for other roles).
// World locked.
std::set<std::string> agent_sites(const World& world, const Principal& who);

// Whether the caller may see what belongs to `org` (its org, or everything).
bool sees_org(const Principal& who, const Policy& policy, const std::string& org);
// Whether the caller may see leases on `pool`.
bool sees_pool_leases(const Principal& who, const Policy& policy, const std::string& pool);
// Whether the caller manages the operator (admin, or its operator-admin).
bool manages_operator(const Principal& who, const std::string& operator_id);
// The operator of a pool or site ("" when unknown).
std::string operator_of_pool(const Policy& policy, const std::string& pool);
std::string operator_of_site(const Policy& policy, const std::string& site);

}  // namespace straits::api::internal
