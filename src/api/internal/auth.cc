#include "api/internal/auth.h"

#include <sodium.h>

#include <algorithm>

#include "api/internal/routes.h"

namespace straits::api::internal {

bool is_role(std::string_view role) {
  return std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles);
}

std::string new_token_secret() {
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe to do
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char text[64];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bytes, sizeof bytes);
  return std::string("st_") + text;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

std::string token_hash(std::string_view secret) {
  return sha256_hex(secret);
}

Principal authenticate(const World& world, const std::string& authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    fail(401, "unauthenticated", "no credentials: send 'Authorization: Bearer <token>'");
  }
  if (authorization.size() <= kBearer.size() ||
      authorization.compare(0, kBearer.size(), kBearer) != 0) {
    fail(401, "unauthenticated", "the Authorization header must be 'Bearer <token>'");
  }
  const std::string hash = token_hash(std::string_view(authorization).substr(kBearer.size()));
  auto found = world.token_by_hash.find(hash);
  if (found == world.token_by_hash.end()) fail(401, "unauthenticated", "unknown token");
  const store::TokenRecord& token = world.tokens.at(found->second);
  if (token.revoked_at) fail(401, "unauthenticated", "the token was revoked");
  auto user = world.users.find(token.user_id);
  if (user == world.users.end() || user->second.retired_at) {
    fail(401, "unauthenticated", "the token's user is retired");
  }
  const store::UserRecord& u = user->second;
  return Principal{u.id, u.name, u.role, u.org, u.operator_id, token.id};
}

void require_role(const Principal& who, std::initializer_list<std::string_view> roles,
                  std::string_view doing) {
  for (std::string_view r : roles) {
    if (who.role == r) return;
  }
  fail(403, "permission_denied", "a " + who.role + " may not " + std::string(doing));
}

void require_writer(const Principal& who, std::string_view doing) {
  if (who.is("auditor")) {
    fail(403, "permission_denied", "an auditor reads only; may not " + std::string(doing));
  }
  if (who.is("compliance")) {
    fail(403, "permission_denied",
         "a compliance user changes compliance facts and decides change requests only; may not " +
             std::string(doing));
  }
  if (who.is("agent")) {
    fail(403, "permission_denied",
         "an agent token acts as a site agent only; may not " + std::string(doing));
  }
}

bool reads_all(const Principal& who) {
  return who.is("admin") || who.is("auditor") || who.is("compliance");
}

void confine_agents(std::vector<Route>& routes) {
  // What a site agent does (docs/agents.md), and whoami (an agent checks
  // which credential it holds). Nothing else: an agent host is exposed to
  // the jobs it runs, so its token reads no job, lease, user or audit.
  static const std::set<std::string> allowed = {
      "GET /v1/whoami",
      "POST /v1/agents",
      "GET /v1/agents/{id}",
      "POST /v1/agents/{id}/heartbeat",
      "GET /v1/agents/{id}/assignments",
      "POST /v1/agents/{id}/reports",
  };
  for (Route& route : routes) {
    if (!route.authenticated || allowed.count(route.method + " " + route.pattern)) continue;
    route.handler = [inner = std::move(route.handler)](Context& ctx, Call& call) {
      if (call.who.is("agent")) {
        fail(403, "permission_denied",
             "an agent token may only register, heartbeat, take assignments and report");
      }
      return inner(ctx, call);
    };
  }
}

std::set<std::string> agent_sites(const World& world, const Principal& who) {
  if (!who.is("agent")) return {};
  auto it = world.users.find(who.user_id);
  if (it == world.users.end()) return {};
  return {it->second.sites.begin(), it->second.sites.end()};
}

bool sees_org(const Principal& who, const Policy& policy, const std::string& org) {
  (void)policy;
  if (reads_all(who)) return true;
  if (who.tenant()) return who.org == org;
  return false;
}

std::string operator_of_site(const Policy& policy, const std::string& site) {
  const catalog::Site* s = policy.catalog.find_site(SiteId(site));
  return s ? s->operator_id.str() : "";
}

std::string operator_of_pool(const Policy& policy, const std::string& pool) {
  const catalog::Pool* p = policy.catalog.find_pool(PoolId(pool));
  return p ? operator_of_site(policy, p->site.str()) : "";
}

bool sees_pool_leases(const Principal& who, const Policy& policy, const std::string& pool) {
  if (reads_all(who)) return true;
  return who.is("operator-admin") && operator_of_pool(policy, pool) == who.operator_id;
}

bool manages_operator(const Principal& who, const std::string& operator_id) {
  return who.is("admin") || (who.is("operator-admin") && who.operator_id == operator_id);
}

}  // namespace straits::api::internal
