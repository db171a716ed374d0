// Tenant isolation as a matrix: every route x every role x the caller's own
// and the other tenant's object, over real HTTP (issue 6, item 3).
//
// Two sides, each a tenant org, an operator with a leasable pool, and users:
//   side A: org bellhollow, operator lionpoint (site sg-tuas-1, pool sg-tuas-1-h100)
//   side B: org tsukimi, operator cascade-ridge (site jp-tokyo-1, pool jp-tokyo-1-h100)
// (`straits policy check --action lease` allows both orgs on both pools at
// 2026-01-01, the fixture's clock). Each side has a lease of its org on its
// pool, a job, a dataset and a licence held by its org; an operator-admin of
// its operator, a tenant-admin and an engineer of its org, and peers (a
// second engineer, a second operator-admin) that the user routes aim at; and
// a site agent of its site (registered by the admin) running its job.
// Admin and auditor belong to no side. Every cell runs with callers of side A
// and of side B, so an asymmetric check is caught too.
//
// Precedence of the answers (the stricter reading of the role model):
//   401  no valid token (absent, unknown, revoked, or its user retired)
//   403  the role may never do this (checked before any lookup, so the
//        answer is the same whether the object exists or not)
//   404  the object named by the path is not the caller's to see (another
//        tenant's, another operator's org/licence): its existence not leaked
//   403  the caller sees it but may not change it, or the body names an org,
//        owner, operator or pool outside its reach
//   409  allowed, but the state refuses (retiring what is still in use)
//
// The matrix (own/other side; lists: which side's items appear). Roles:
// adm = admin, aud = auditor, opa = operator-admin, ta = tenant-admin,
// eng = engineer. Entities are operators/sites/pools (the market: visible to
// all), orgs (a tenant sees its own, an operator-admin its customers: orgs
// with a lease on its pools), licences and datasets (the holder's/owner's).
//
//   route                                adm      aud      opa      ta       eng
//   GET   /v1/{operators,sites,pools}    both     both     both     both     both
//   GET   /v1/orgs                       both     both     own      own      own
//   GET   /v1/{licences,datasets}        both     both     none     own      own
//   GET   /v1/{operators,sites,pools}/id 200/200  200/200  200/200  200/200  200/200
//   GET   /v1/orgs/id                    200/200  200/200  200/404  200/404  200/404
//   GET   /v1/{licences,datasets}/id     200/200  200/200  404/404  200/404  200/404
//   POST  /v1/operators                  201/201  403/403  403/403  403/403  403/403
//   PATCH /v1/operators/id               200/200  403/403  403/403  403/403  403/403
//   POST  /v1/operators/id/retire        409/409  403/403  403/403  403/403  403/403
//   POST  /v1/{sites,pools}              201/201  403/403  201/403  403/403  403/403
//   PATCH, retire /v1/{sites,pools}/id   200/200  403/403  200/403  403/403  403/403
//   POST  /v1/{orgs,licences}            201/201  403/403  403/403  403/403  403/403
//   PATCH /v1/{orgs,licences}/id         200/200  403/403  403/403  403/403  403/403
//   retire /v1/orgs/id (in use)          409/409  403/403  403/403  403/403  403/403
//   retire /v1/licences/id               200/200  403/403  403/403  403/403  403/403
//   POST  /v1/datasets                   201/201  403/403  403/403  201/403  403/403
//   PATCH, retire /v1/datasets/id        200/200  403/403  403/403  200/404  403/403
//   GET   /v1/chips, /v1/chips/id        200      200      200      200      200
//   GET   /v1/whoami                     200      200      200      200      200
//   GET   /v1/users                      both     both     own      own      none
//   POST  /v1/users                      201/201  403/403  201/403  201/403  403/403
//   GET   /v1/users/id, .../tokens       200/200  200/200  200/404  200/404  404/404
//   POST  /v1/users/id/tokens            201/201  403/403  201/404  201/404  404/404
//   POST  /v1/users/id/retire            200/200  403/403  200/404  200/404  403/403
//   POST  /v1/tokens/id/revoke           200/200  403/403  200/404  200/404  404/404
//   POST  /v1/leases/quote               200/200  403/403  403/403  200/403  200/403
//   POST  /v1/leases                     201/201  403/403  403/403  201/403  403/403
//   GET   /v1/leases                     both     both     own      own      own
//   GET   /v1/leases/id                  200/200  200/200  200/404  200/404  200/404
//   POST  /v1/leases/id/terminate        200/200  403/403  200/404  200/404  403/403
//   POST  /v1/jobs                       201/201  403/403  403/403  201/403  201/403
//   GET   /v1/jobs                       both     both     none     own      own
//   GET   /v1/jobs/id, events, logs      200/200  200/200  404/404  200/404  200/404
//   POST  /v1/jobs/id/cancel             200/200  403/403  403/403  200/404  200/404
//   POST  /v1/decisions (lease org/pool) 200/200  200/200  200/403  200/403  200/403
//   GET   /v1/audit, /v1/audit/verify    200      200      403      403      403
//   POST  /v1/schedule                   200      403      403      403      403
//   POST  /v1/agents                     201/201  403/403  201/403  403/403  403/403
//   GET   /v1/agents                     both     both     own      403      403
//   GET   /v1/agents/id                  200/200  200/200  200/404  403/403  403/403
//   POST  /v1/agents/id/heartbeat        200/200  403/403  200/404  403/403  403/403
//   GET   /v1/agents/id/assignments      200/200  403/403  200/404  403/403  403/403
//   POST  /v1/agents/id/reports          200/200  403/403  200/404  403/403  403/403
//   GET   /metrics                       200      200      403      403      403
//   GET   /healthz, openapi              200 without a token
//
// The user routes aim at a peer of the caller's kind: an operator-admin's
// "own" user is another operator-admin of its operator; everyone else's is
// another engineer of the side's org. An engineer sees only itself among the
// users (the stricter reading of "reads the rest of its org"). Operator-admins
// see no jobs, datasets or licences of their customers. Decisions: an
// operator-admin may ask about any org on its own pools (screening a
// customer), a tenant about its own org only. Site agents (docs/agents.md):
// admins and the operator-admin of the agent's sites act as the agent (an
// operator-admin registers agents for its own sites only); the auditor reads
// agents; tenants have nothing to do with them. The assignments long-poll
// (wait=0) counts as a change: it hands assignments out and marks the agent
// heard from, as heartbeats and reports do (the clock moves a second before
// each agent request, so that a refused one that did would show in last_seen).
// Those three are not audited (registrations, a run's start and end are).
//
// Every refused mutation is checked to change nothing: the admin's view of
// every collection (and the peers' tokens) and the audit log's length are the
// same before and after. Every allowed one appends to the audit log.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/server_fixture.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::json;
using testing_util::TestServer;

enum Role {
  kAdmin,
  kAuditor,
  kOperatorAdmin,
  kTenantAdmin,
  kEngineer,
  kCompliance,
  kAgent,
  kRoles
};
constexpr const char* kRoleName[kRoles] = {
    "admin", "auditor", "operator-admin", "tenant-admin", "engineer", "compliance", "agent"};

// kOne: no object (one answer per role); kSides: "OWN/OTHER"; kList: "200 both",
// "200 own", "200 none" (which side's items appear) or a refusal.
enum class Shape { kOne, kSides, kList };

struct Row {
  const char* route;
  Shape shape;
  // admin, auditor, operator-admin, tenant-admin, engineer, compliance, agent
  std::array<const char*, kRoles> expect;
};

const std::vector<Row>& matrix() {
  using S = Shape;
  static const std::vector<Row> rows = {
      // ---- The market: operators, sites, pools. ----
      {"GET /v1/operators",
       S::kList,
       {"200 both", "200 both", "200 both", "200 both", "200 both", "200 both", "403"}},
      {"POST /v1/operators",
       S::kSides,
       {"201/201", "403/403", "403/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/operators/{id}",
       S::kSides,
       {"200/200", "200/200", "200/200", "200/200", "200/200", "200/200", "403/403"}},
      {"PATCH /v1/operators/{id}",
       S::kSides,
       {"200/200", "403/403", "403/403", "403/403", "403/403", "200/200", "403/403"}},
      {"POST /v1/operators/{id}/retire",
       S::kSides,
       {"409/409", "403/403", "403/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/sites",
       S::kList,
       {"200 both", "200 both", "200 both", "200 both", "200 both", "200 both", "403"}},
      {"POST /v1/sites",
       S::kSides,
       {"201/201", "403/403", "201/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/sites/{id}",
       S::kSides,
       {"200/200", "200/200", "200/200", "200/200", "200/200", "200/200", "403/403"}},
      {"PATCH /v1/sites/{id}",
       S::kSides,
       {"200/200", "403/403", "200/403", "403/403", "403/403", "200/200", "403/403"}},
      {"POST /v1/sites/{id}/retire",
       S::kSides,
       {"200/200", "403/403", "200/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/pools",
       S::kList,
       {"200 both", "200 both", "200 both", "200 both", "200 both", "200 both", "403"}},
      {"POST /v1/pools",
       S::kSides,
       {"201/201", "403/403", "201/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/pools/{id}",
       S::kSides,
       {"200/200", "200/200", "200/200", "200/200", "200/200", "200/200", "403/403"}},
      {"PATCH /v1/pools/{id}",
       S::kSides,
       {"200/200", "403/403", "200/403", "403/403", "403/403", "200/200", "403/403"}},
      {"POST /v1/pools/{id}/retire",
       S::kSides,
       {"200/200", "403/403", "200/403", "403/403", "403/403", "403/403", "403/403"}},
      // ---- What tenants own: orgs, licences, datasets. ----
      {"GET /v1/orgs",
       S::kList,
       {"200 both", "200 both", "200 own", "200 own", "200 own", "200 both", "403"}},
      {"POST /v1/orgs",
       S::kSides,
       {"201/201", "403/403", "403/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/orgs/{id}",
       S::kSides,
       {"200/200", "200/200", "200/404", "200/404", "200/404", "200/200", "403/403"}},
      {"PATCH /v1/orgs/{id}",
       S::kSides,
       {"200/200", "403/403", "403/403", "403/403", "403/403", "200/200", "403/403"}},
      {"POST /v1/orgs/{id}/retire",
       S::kSides,
       {"409/409", "403/403", "403/403", "403/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/licences",
       S::kList,
       {"200 both", "200 both", "200 none", "200 own", "200 own", "200 both", "403"}},
      {"POST /v1/licences",
       S::kSides,
       {"201/201", "403/403", "403/403", "403/403", "403/403", "201/201", "403/403"}},
      {"GET /v1/licences/{id}",
       S::kSides,
       {"200/200", "200/200", "404/404", "200/404", "200/404", "200/200", "403/403"}},
      {"PATCH /v1/licences/{id}",
       S::kSides,
       {"200/200", "403/403", "403/403", "403/403", "403/403", "200/200", "403/403"}},
      {"POST /v1/licences/{id}/retire",
       S::kSides,
       {"200/200", "403/403", "403/403", "403/403", "403/403", "200/200", "403/403"}},
      {"GET /v1/datasets",
       S::kList,
       {"200 both", "200 both", "200 none", "200 own", "200 own", "200 both", "403"}},
      {"POST /v1/datasets",
       S::kSides,
       {"201/201", "403/403", "403/403", "201/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/datasets/{id}",
       S::kSides,
       {"200/200", "200/200", "404/404", "200/404", "200/404", "200/200", "403/403"}},
      {"PATCH /v1/datasets/{id}",
       S::kSides,
       {"200/200", "403/403", "403/403", "200/404", "403/403", "200/200", "403/403"}},
      {"POST /v1/datasets/{id}/retire",
       S::kSides,
       {"200/200", "403/403", "403/403", "200/404", "403/403", "403/403", "403/403"}},
      {"GET /v1/chips", S::kOne, {"200", "200", "200", "200", "200", "200", "403"}},
      {"GET /v1/chips/{id}", S::kOne, {"200", "200", "200", "200", "200", "200", "403"}},
      // ---- Users and tokens. ----
      {"GET /v1/whoami", S::kOne, {"200", "200", "200", "200", "200", "200", "200"}},
      {"GET /v1/users",
       S::kList,
       {"200 both", "200 both", "200 own", "200 own", "200 none", "200 both", "403"}},
      {"POST /v1/users",
       S::kSides,
       {"201/201", "403/403", "201/403", "201/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/users/{id}",
       S::kSides,
       {"200/200", "200/200", "200/404", "200/404", "404/404", "200/200", "403/403"}},
      {"POST /v1/users/{id}/retire",
       S::kSides,
       {"200/200", "403/403", "200/404", "200/404", "403/403", "403/403", "403/403"}},
      {"GET /v1/users/{id}/tokens",
       S::kSides,
       {"200/200", "200/200", "200/404", "200/404", "404/404", "200/200", "403/403"}},
      {"POST /v1/users/{id}/tokens",
       S::kSides,
       {"201/201", "403/403", "201/404", "201/404", "404/404", "403/403", "403/403"}},
      {"POST /v1/tokens/{id}/revoke",
       S::kSides,
       {"200/200", "403/403", "200/404", "200/404", "404/404", "403/403", "403/403"}},
      // ---- Leases. ----
      {"POST /v1/leases/quote",
       S::kSides,
       {"200/200", "403/403", "403/403", "200/403", "200/403", "403/403", "403/403"}},
      {"POST /v1/leases",
       S::kSides,
       {"201/201", "403/403", "403/403", "201/403", "403/403", "403/403", "403/403"}},
      {"GET /v1/leases",
       S::kList,
       {"200 both", "200 both", "200 own", "200 own", "200 own", "200 both", "403"}},
      {"GET /v1/leases/{id}",
       S::kSides,
       {"200/200", "200/200", "200/404", "200/404", "200/404", "200/200", "403/403"}},
      {"POST /v1/leases/{id}/terminate",
       S::kSides,
       {"200/200", "403/403", "200/404", "200/404", "403/403", "403/403", "403/403"}},
      // ---- Jobs. ----
      {"POST /v1/jobs",
       S::kSides,
       {"201/201", "403/403", "403/403", "201/403", "201/403", "403/403", "403/403"}},
      {"GET /v1/jobs",
       S::kList,
       {"200 both", "200 both", "200 none", "200 own", "200 own", "200 both", "403"}},
      {"GET /v1/jobs/{id}",
       S::kSides,
       {"200/200", "200/200", "404/404", "200/404", "200/404", "200/200", "403/403"}},
      {"POST /v1/jobs/{id}/cancel",
       S::kSides,
       {"200/200", "403/403", "403/403", "200/404", "200/404", "403/403", "403/403"}},
      {"GET /v1/jobs/{id}/events",
       S::kSides,
       {"200/200", "200/200", "404/404", "200/404", "200/404", "200/200", "403/403"}},
      {"GET /v1/jobs/{id}/logs",
       S::kSides,
       {"200/200", "200/200", "404/404", "200/404", "200/404", "200/200", "403/403"}},
      // ---- Decisions, audit, scheduling, public routes. ----
      {"POST /v1/decisions",
       S::kSides,
       {"200/200", "200/200", "200/403", "200/403", "200/403", "200/200", "403/403"}},
      {"GET /v1/audit", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"GET /v1/audit/verify", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"GET /v1/audit/public-key", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"GET /v1/audit/heads", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      // The console's read models (issue 18): every signed-in role, each
      // seeing what its role may (tests/security/console_api_test.cc).
      {"GET /v1/fleet", S::kOne, {"200", "200", "200", "200", "200", "200", "403"}},
      {"GET /v1/upcoming", S::kOne, {"200", "200", "200", "200", "200", "200", "403"}},
      {"GET /v1/rules/changes", S::kOne, {"200", "200", "200", "200", "200", "200", "403"}},
      {"GET /v1/audit/export", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"POST /v1/schedule", S::kOne, {"200", "403", "403", "403", "403", "403", "403"}},
      // ---- Site agents: admins and the sites' operator-admin act as agents. ----
      {"POST /v1/agents",
       S::kSides,
       {"201/201", "403/403", "201/403", "403/403", "403/403", "403/403", "201/403"}},
      {"GET /v1/agents",
       S::kList,
       {"200 both", "200 both", "200 own", "403", "403", "200 both", "403"}},
      {"GET /v1/agents/{id}",
       S::kSides,
       {"200/200", "200/200", "200/404", "403/403", "403/403", "200/200", "200/404"}},
      {"POST /v1/agents/{id}/heartbeat",
       S::kSides,
       {"200/200", "403/403", "200/404", "403/403", "403/403", "403/403", "200/404"}},
      {"GET /v1/agents/{id}/assignments",
       S::kSides,
       {"200/200", "403/403", "200/404", "403/403", "403/403", "403/403", "200/404"}},
      {"POST /v1/agents/{id}/reports",
       S::kSides,
       {"200/200", "403/403", "200/404", "403/403", "403/403", "403/403", "200/404"}},
      // ---- Change requests of compliance facts (maker-checker). ----
      {"GET /v1/change-requests",
       S::kList,
       {"200 both", "200 both", "200 none", "200 own", "200 own", "200 both", "403"}},
      {"GET /v1/change-requests/{id}",
       S::kSides,
       {"200/200", "200/200", "404/404", "200/404", "200/404", "200/200", "403/403"}},
      {"POST /v1/change-requests/{id}/approve",
       S::kSides,
       {"200/200", "403/403", "403/403", "403/403", "403/403", "200/200", "403/403"}},
      {"POST /v1/change-requests/{id}/reject",
       S::kSides,
       {"200/200", "403/403", "403/403", "403/403", "403/403", "200/200", "403/403"}},
      // ---- Rule sets (issue 17): one set of rules for all; admin and
      // compliance change them; a draft is 404 to tenants and operators. ----
      {"GET /v1/rulesets", S::kOne, {"200", "200", "200", "200", "200", "200", "403"}},
      {"POST /v1/rulesets", S::kOne, {"201", "403", "403", "403", "403", "201", "403"}},
      {"GET /v1/rulesets/{id}", S::kOne, {"200", "200", "404", "404", "404", "200", "403"}},
      {"POST /v1/rulesets/{id}/propose",
       S::kOne,
       {"200", "403", "403", "403", "403", "200", "403"}},
      {"POST /v1/rulesets/{id}/adopt", S::kOne, {"200", "403", "403", "403", "403", "200", "403"}},
      {"POST /v1/rulesets/{id}/retire", S::kOne, {"200", "403", "403", "403", "403", "200", "403"}},
      // What a set would change reads every set and the whole fleet: the
      // roles that read everything, never a tenant or an operator.
      {"POST /v1/rulesets/{id}/diff", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"POST /v1/rulesets/{id}/impact", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"GET /v1/rulesets/{id}/simulation",
       S::kOne,
       {"200", "200", "403", "403", "403", "200", "403"}},
      {"GET /healthz", S::kOne, {"200", "200", "200", "200", "200", "200", "200"}},
      {"GET /metrics", S::kOne, {"200", "200", "403", "403", "403", "200", "403"}},
      {"GET /v1/openapi.json", S::kOne, {"200", "200", "200", "200", "200", "200", "200"}},
  };
  return rows;
}

const std::set<std::string> kPublic = {"GET /healthz", "GET /v1/openapi.json"};
// POSTs that change nothing when they succeed (no audit event).
const std::set<std::string> kReadOnlyPosts = {"POST /v1/leases/quote", "POST /v1/decisions",
                                              "POST /v1/schedule", "POST /v1/rulesets/{id}/diff",
                                              "POST /v1/rulesets/{id}/impact"};
// Agent traffic: changes (what was handed out, when the agent was heard
// from, a run's checkpoint) that are not audited.
const std::set<std::string> kAgentTraffic = {"POST /v1/agents/{id}/heartbeat",
                                             "GET /v1/agents/{id}/assignments",
                                             "POST /v1/agents/{id}/reports"};
const char* const kEntityPlurals[] = {"operators", "sites",    "pools",
                                      "orgs",      "licences", "datasets"};

struct User {
  std::string id, token;
};

struct Side {
  std::string org, op, site, country, pool;
  User op_admin, op_peer, tenant_admin, engineer, engineer_peer;
  User agent_user;  // role agent, bound to the side's site
  std::string lease, job, dataset, licence;
  std::string agent;    // of its site (registered with agent_user's token), running its job
  std::string request;  // a pending change request of its tenant-admin (its dataset's origin)
  // Every id made for this side, by collection ("leases"): what the other
  // side must never see.
  std::map<std::string, std::set<std::string>> ids;
};

struct Req {
  std::string method, path;
  json body;
  std::string id;  // the object the path names ("" when none)
};

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The matrix takes longer than the default 30 s: its agents stay active.
    server_.options().agent_lost_after = Duration::seconds(3600);
    server_.start();
    admin_ = server_.admin_token();
    auditor_ = make_user("auditor", "", "").token;
    compliance_ = make_user("compliance", "", "").token;
    sides_[0].org = "bellhollow";
    sides_[0].op = "lionpoint";
    sides_[0].site = "sg-tuas-1";
    sides_[0].country = "SG";
    sides_[0].pool = "sg-tuas-1-h100";
    sides_[1].org = "tsukimi";
    sides_[1].op = "cascade-ridge";
    sides_[1].site = "jp-tokyo-1";
    sides_[1].country = "JP";
    sides_[1].pool = "jp-tokyo-1-h100";
    for (Side& s : sides_) {
      s.op_admin = make_user("operator-admin", "", s.op, &s);
      s.op_peer = make_user("operator-admin", "", s.op, &s);
      s.tenant_admin = make_user("tenant-admin", s.org, "", &s);
      s.engineer = make_user("engineer", s.org, "", &s);
      s.engineer_peer = make_user("engineer", s.org, "", &s);
      s.lease = admin_make("/v1/leases", lease_body(s), s);
      s.job = admin_make("/v1/jobs", job_body(s), s);
      s.dataset = admin_make("/v1/datasets", entity_body("datasets", s), s);
      s.licence = admin_make("/v1/licences", entity_body("licences", s), s);
      s.agent_user = make_user("agent", "", "", &s, {s.site});
      Answer agent = server_.post("/v1/agents", s.agent_user.token, agent_body(s));
      ASSERT_EQ(agent.status, 201) << agent.text;
      s.agent = agent.body["id"];
      s.ids["agents"].insert(s.agent);
      s.request = make_request(s);
    }
    // Each side's job is placed on its lease and runs at its agent.
    ASSERT_EQ(server_.post("/v1/schedule", admin_, nullptr).status, 200);
    for (const Side& s : sides_) {
      Answer handed = server_.get("/v1/agents/" + s.agent + "/assignments", admin_);
      ASSERT_EQ(handed.status, 200) << handed.text;
      ASSERT_EQ(handed.body["assignments"].size(), 1u) << handed.text;
      ASSERT_EQ(handed.body["assignments"][0]["id"], s.job + "/1/start") << handed.text;
      Answer started = server_.post(
          "/v1/agents/" + s.agent + "/reports", admin_,
          {{"reports", {{{"job", s.job}, {"attempt", 1}, {"event", "started"}, {"handle", "1"}}}}});
      ASSERT_EQ(started.status, 200) << started.text;
      ASSERT_EQ(started.body["results"][0]["applied"], true) << started.text;
    }
  }

  std::string fresh(const std::string& stem) { return "iso-" + stem + "-" + std::to_string(++n_); }

  User make_user(const std::string& role, const std::string& org, const std::string& op,
                 Side* side = nullptr, const std::vector<std::string>& sites = {}) {
    json body = {{"name", fresh(role)}, {"role", role}};
    if (!org.empty()) body["org"] = org;
    if (!op.empty()) body["operator"] = op;
    if (!sites.empty()) body["sites"] = sites;
    Answer u = server_.post("/v1/users", admin_, body);
    if (u.status != 201) throw std::runtime_error("make_user: " + u.text);
    Answer t = server_.post("/v1/users/" + u.body["id"].get<std::string>() + "/tokens", admin_,
                            json::object());
    if (t.status != 201) throw std::runtime_error("make_token: " + t.text);
    if (side) side->ids["users"].insert(u.body["id"].get<std::string>());
    return {u.body["id"], t.body["secret"]};
  }

  // Made by the admin for `side`; returns the id.
  std::string admin_make(const std::string& path, const json& body, Side& side) {
    Answer a = server_.post(path, admin_, body);
    if (a.status != 201) throw std::runtime_error("admin_make " + path + ": " + a.text);
    side.ids[path.substr(4)].insert(a.body["id"].get<std::string>());
    return a.body["id"];
  }

  // A change request of the side's tenant-admin: its dataset's origin moved
  // (to whichever of two countries it is not in now). Returns its id.
  std::string make_request(Side& s) {
    const Answer now = server_.get("/v1/datasets/" + s.dataset, admin_);
    const std::string origin = now.body.value("origin", "") == "US" ? "SG" : "US";
    const Answer a = server_.request("PATCH", "/v1/datasets/" + s.dataset, s.tenant_admin.token,
                                     json{{"origin", origin}}.dump());
    if (a.status != 202) throw std::runtime_error("make_request: " + a.text);
    s.ids["change-requests"].insert(a.body["id"].get<std::string>());
    return a.body["id"];
  }

  json lease_body(const Side& s) {
    return {{"org", s.org},
            {"pool", s.pool},
            {"gpus", 8},
            {"start", "2026-01-01T00:00:00Z"},
            {"end", "2026-03-01T00:00:00Z"}};
  }
  json agent_body(const Side& s) {
    return {{"name", fresh("agent")}, {"sites", {s.site}}, {"backend", "local"}};
  }
  json job_body(const Side& s) {
    return {{"org", s.org}, {"gpus", 8}, {"work", 100}, {"command", "train.sh"}};
  }
  // A new entity of the kind, in the side's scope (its operator, site, org).
  json entity_body(const std::string& plural, const Side& s) {
    const std::string id = fresh(plural);
    if (plural == "operators") return {{"id", id}, {"name", id}, {"hq", "SG"}, {"parent", s.op}};
    if (plural == "sites") {
      return {{"id", id}, {"name", id}, {"operator", s.op}, {"country", s.country}, {"city", "X"}};
    }
    if (plural == "pools") {
      return {{"id", id},
              {"site", s.site},
              {"chip", "h100-sxm"},
              {"nodes", 1},
              {"gpus_per_node", 8},
              {"interconnect", "InfiniBand"},
              {"price_per_gpu_hour", "3.5 USD"},
              {"price_source", "a test"}};
    }
    if (plural == "orgs") return {{"id", id}, {"name", id}, {"hq", "US"}, {"parent", s.org}};
    if (plural == "licences") {
      return {{"id", id},
              {"name", "ISO-TEST"},
              {"holder", s.org},
              {"chips", {"h100-sxm"}},
              {"countries", {s.country}},
              {"valid_from", "2025-01-01"},
              {"issuer", "a test"}};
    }
    // A tenant's dataset ids are "ORG.NAME".
    return {{"id", s.org + "." + id}, {"name", id},        {"owner", s.org},
            {"origin", "US"},         {"class", "public"}, {"size_tb", 1.5}};
  }
  std::string fixed_id(const std::string& plural, const Side& s) {
    if (plural == "operators") return s.op;
    if (plural == "sites") return s.site;
    if (plural == "pools") return s.pool;
    if (plural == "orgs") return s.org;
    if (plural == "licences") return s.licence;
    return s.dataset;
  }
  // The user the user routes aim at for a caller of `role` on side `s`.
  const User& peer(Role role, const Side& s) {
    return role == kOperatorAdmin ? s.op_peer : s.engineer_peer;
  }
  const std::string& token(Role role, int side) {
    switch (role) {
      case kAdmin: return admin_;
      case kAuditor: return auditor_;
      case kOperatorAdmin: return sides_[side].op_admin.token;
      case kTenantAdmin: return sides_[side].tenant_admin.token;
      case kCompliance: return compliance_;
      case kAgent: return sides_[side].agent_user.token;
      default: return sides_[side].engineer.token;
    }
  }

  // The request of `route` by a caller of `role` aimed at side `t`'s object
  // (made fresh by the admin where the request consumes it).
  Req target(const std::string& route, Role role, int t) {
    Side& s = sides_[t];
    const auto space = route.find(' ');
    Req r{route.substr(0, space), route.substr(space + 1), nullptr, ""};
    auto put = [&](const std::string& id) {
      const auto at = r.path.find('{');
      r.path.replace(at, r.path.find('}') - at + 1, id);
      r.id = id;
    };
    for (const char* plural : kEntityPlurals) {
      const std::string base = std::string("/v1/") + plural;
      if (r.path == base && r.method == "POST") r.body = entity_body(plural, s);
      if (r.path == base && r.method == "GET") r.path += "?limit=1000&retired=all";
      if (r.path == base + "/{id}") {
        put(fixed_id(plural, s));
        if (r.method == "PATCH") r.body = {{"notes", std::string("patched by ") + kRoleName[role]}};
      }
      if (r.path == base + "/{id}/retire") {
        const std::string p = plural;
        const bool consumable = p == "sites" || p == "pools" || p == "licences" || p == "datasets";
        put(consumable ? admin_make(base, entity_body(p, s), s) : fixed_id(p, s));
        r.body = json::object();
      }
    }
    if (r.path == "/v1/chips/{id}") put("h100-sxm");
    if (r.path == "/v1/users" && r.method == "GET") r.path += "?limit=1000";
    if (r.path == "/v1/users" && r.method == "POST") {
      r.body = role == kOperatorAdmin
                   ? json{{"name", fresh("u")}, {"role", "operator-admin"}, {"operator", s.op}}
                   : json{{"name", fresh("u")}, {"role", "engineer"}, {"org", s.org}};
    }
    if (r.path == "/v1/users/{id}" || r.path == "/v1/users/{id}/tokens") put(peer(role, s).id);
    if (r.path == "/v1/users/{id}/tokens" && r.method == "POST") r.body = {{"label", "iso"}};
    if (r.path == "/v1/users/{id}/retire") {
      put(role == kOperatorAdmin ? make_user("operator-admin", "", s.op, &s).id
                                 : make_user("engineer", s.org, "", &s).id);
      r.body = json::object();
    }
    if (r.path == "/v1/tokens/{id}/revoke") {
      Answer made =
          server_.post("/v1/users/" + peer(role, s).id + "/tokens", admin_, json::object());
      put(made.body["id"]);
      r.body = json::object();
    }
    if (r.path == "/v1/leases/quote" || (r.path == "/v1/leases" && r.method == "POST")) {
      r.body = lease_body(s);
    }
    if (r.path == "/v1/leases" && r.method == "GET") r.path += "?limit=1000";
    if (r.path == "/v1/leases/{id}") put(s.lease);
    if (r.path == "/v1/leases/{id}/terminate") {
      put(admin_make("/v1/leases", lease_body(s), s));
      r.body = json::object();
    }
    if (r.path == "/v1/jobs" && r.method == "POST") r.body = job_body(s);
    if (r.path == "/v1/jobs" && r.method == "GET") r.path += "?limit=1000";
    if (r.path.rfind("/v1/jobs/{id}", 0) == 0) {
      put(r.path == "/v1/jobs/{id}/cancel" ? admin_make("/v1/jobs", job_body(s), s) : s.job);
      if (r.method == "POST") r.body = json::object();
    }
    if (r.path == "/v1/decisions") {
      r.body = {{"action", "lease"}, {"org", s.org}, {"pool", s.pool}, {"gpus", 8}};
    }
    if (r.path == "/v1/agents" && r.method == "POST") r.body = agent_body(s);
    if (r.path == "/v1/agents" && r.method == "GET") r.path += "?limit=1000";
    if (r.path.rfind("/v1/agents/{id}", 0) == 0) put(s.agent);
    if (r.path == "/v1/change-requests") r.path += "?limit=1000";
    if (r.path == "/v1/change-requests/{id}") put(s.request);
    if (r.path.ends_with("/approve") || r.path.ends_with("/reject")) {
      put(make_request(s));  // each decision consumes one
      r.body = r.path.ends_with("/reject") ? json{{"reason", "iso"}} : json::object();
    }
    if (r.path == "/v1/rulesets" && r.method == "POST") r.body = ruleset_body();
    if (r.path.rfind("/v1/rulesets/{id}", 0) == 0) {
      // A fresh draft (proposed, to be adopted) each time: each change consumes one.
      put(make_ruleset(r.path.ends_with("/adopt")));
      if (r.method == "POST") r.body = json::object();
      if (r.path.ends_with("/adopt")) {
        r.body["effective"] =
            to_iso8601(testing_util::at("2030-01-01T00:00:00Z") + Duration::seconds(++n_));
      }
    }
    if (r.path.ends_with("/heartbeat")) {
      r.body = {{"runs", {{{"job", s.job}, {"attempt", 1}, {"state", "running"}}}}};
    }
    if (r.path.ends_with("/assignments")) r.path += "?wait=0";
    if (r.path.ends_with("/reports")) {
      // Applies whenever it is allowed (a new checkpoint of the side's run).
      r.body = {{"reports",
                 {{{"job", s.job},
                   {"attempt", 1},
                   {"event", "checkpoint"},
                   {"path", "/ckpt/" + fresh("step")}}}}};
    }
    return r;
  }

  // A small pack that compiles on its own.
  static json ruleset_body() {
    const std::string rule =
        "rule iso.one {\n  title \"t\"\n  source \"s\"\n  effective 2020-01-01 ..\n"
        "  on ship\n  when ship.quantity > 1e15\n  then forbid\n}\n";
    return {{"name", "iso"}, {"packs", {{{"name", "iso"}, {"files", {{"iso.rules", rule}}}}}}};
  }
  // A draft the admin pushed (and proposed, when asked); returns its id.
  std::string make_ruleset(bool proposed) {
    Answer a = server_.post("/v1/rulesets", admin_, ruleset_body());
    if (a.status != 201) throw std::runtime_error("make_ruleset: " + a.text);
    const std::string id = a.body["id"];
    if (proposed &&
        server_.post("/v1/rulesets/" + id + "/propose", admin_, nullptr).status != 200) {
      throw std::runtime_error("make_ruleset: not proposed");
    }
    return id;
  }

  // The ids a list route shows, for its collection.
  static std::set<std::string> item_ids(const Answer& a) {
    std::set<std::string> ids;
    if (a.body.is_object() && a.body["items"].is_array()) {
      for (const json& item : a.body["items"]) ids.insert(item.value("id", ""));
    }
    return ids;
  }
  // The id the caller's own side shows in a list route (the fixed object).
  std::string own_list_id(const std::string& collection, Role role, const Side& s) {
    if (collection == "users") return peer(role, s).id;
    if (collection == "leases") return s.lease;
    if (collection == "jobs") return s.job;
    if (collection == "agents") return s.agent;
    if (collection == "change-requests") return s.request;
    return fixed_id(collection, s);
  }

  // What the admin sees of everything a refused request could have changed.
  // Read as text over one kept-alive connection (the matrix takes hundreds:
  // parsing them and connecting each time would be most of its time).
  std::string snapshot() {
    if (!admin_client_) {
      admin_client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
      admin_client_->set_keep_alive(true);
      admin_client_->set_read_timeout(30, 0);
    }
    const httplib::Headers headers = {{"Authorization", "Bearer " + admin_}};
    auto text = [&](const std::string& path) {
      httplib::Result r = admin_client_->Get(path, headers);
      if (!r) return path + ": no answer: " + httplib::to_string(r.error());
      return r->status == 200 ? r->body : path + ": " + std::to_string(r->status) + " " + r->body;
    };
    std::string out;
    for (const char* plural : kEntityPlurals) {
      out += text(std::string("/v1/") + plural + "?limit=1000&retired=all");
    }
    for (const char* path :
         {"/v1/users?limit=1000", "/v1/leases?limit=1000", "/v1/jobs?limit=1000",
          "/v1/agents?limit=1000", "/v1/change-requests?limit=1000", "/v1/rulesets?limit=1000"}) {
      out += text(path);
    }
    for (const Side& s : sides_) {
      for (const User* u : {&s.op_peer, &s.engineer_peer}) {
        out += text("/v1/users/" + u->id + "/tokens");
      }
    }
    return out;
  }
  std::int64_t audit_seq() { return server_.get("/healthz", "").body["audit_seq"]; }

  TestServer server_;
  std::unique_ptr<httplib::Client> admin_client_;  // for snapshot()
  std::string admin_, auditor_, compliance_;
  Side sides_[2];
  int n_ = 0;
};

TEST_F(IsolationTest, EveryRouteEveryRoleOwnAndOtherTenant) {
  // The matrix covers exactly the routes the server answers.
  std::set<std::string> covered, served;
  for (const Row& row : matrix()) EXPECT_TRUE(covered.insert(row.route).second) << row.route;
  for (const std::string& route : Server::routes()) served.insert(route);
  EXPECT_EQ(covered, served) << "a route without a row in the isolation matrix, or a row for a "
                                "route the server does not answer";

  int checked = 0, refused_unchanged = 0, lists = 0;
  // The snapshot after the last refused change serves as the next one's
  // "before" while nothing was audited or allowed since (were it stale, the
  // next comparison would fail, not pass).
  std::string unchanged;
  std::int64_t unchanged_seq = -1;
  for (const Row& row : matrix()) {
    const std::string route = row.route;
    for (int r = 0; r < kRoles; ++r) {
      const Role role = static_cast<Role>(r);
      const std::string expect = row.expect[r];
      for (int caller = 0; caller < 2; ++caller) {
        for (int other = 0; other < (row.shape == Shape::kSides ? 2 : 1); ++other) {
          const int t = other ? 1 - caller : caller;
          const std::string where =
              route + " as " + kRoleName[r] + " of side " + "AB"[caller] +
              (row.shape == Shape::kSides ? (other ? " on other" : " on own") : std::string());
          const int want = row.shape == Shape::kSides
                               ? std::stoi(other ? expect.substr(expect.find('/') + 1) : expect)
                               : std::stoi(expect);
          Req req = target(route, role, t);
          const bool mutation = req.method != "GET" || kAgentTraffic.count(route);
          const std::int64_t seq = audit_seq();
          const std::string before = !mutation ? "" : seq == unchanged_seq ? unchanged : snapshot();
          if (route.find(" /v1/agents") != std::string::npos) {
            server_.clock().advance(Duration::seconds(1));
          }
          const std::string tok = kPublic.count(route) ? "" : token(role, caller);
          Answer a =
              server_.request(req.method, req.path, tok, req.body.is_null() ? "" : req.body.dump());
          ++checked;
          EXPECT_EQ(a.status, want) << where << ": " << a.text.substr(0, 400);
          if (a.status == 403) {
            EXPECT_EQ(a.body["error"]["code"], "permission_denied") << where;
          }
          if (mutation && a.status >= 400) {
            unchanged = snapshot();
            unchanged_seq = audit_seq();
            EXPECT_EQ(unchanged, before) << where << " changed something";
            EXPECT_EQ(unchanged_seq, seq) << where << " was audited";
            ++refused_unchanged;
          } else if (mutation) {
            unchanged_seq = -1;
          }
          if (a.status == 404) {
            // Existence not leaked: the answer is the one for an id that does
            // not exist, word for word (but the id).
            ASSERT_FALSE(req.id.empty()) << where;
            const std::string missing = "iso-no-such-" + std::to_string(++n_);
            std::string missing_path = req.path;
            missing_path.replace(missing_path.find(req.id), req.id.size(), missing);
            Answer none = server_.request(req.method, missing_path, tok,
                                          req.body.is_null() ? "" : req.body.dump());
            std::string text = a.text;
            text.replace(text.find(req.id), req.id.size(), missing);
            EXPECT_EQ(none.status, 404) << where;
            EXPECT_EQ(text, none.text) << where;
          } else if (mutation && a.status < 400 && !kReadOnlyPosts.count(route) &&
                     !kAgentTraffic.count(route)) {
            EXPECT_GT(audit_seq(), seq) << where << " succeeded without an audit event";
          }
          // What a refused report was checked not to do, an allowed one does.
          if (route == "POST /v1/agents/{id}/reports" && a.status == 200) {
            EXPECT_EQ(a.body["results"][0]["applied"], true) << where << ": " << a.text;
          }
          // Ids made by a successful create belong to the side aimed at.
          const std::string path = req.path.substr(0, req.path.find('?'));
          if (a.status == 201 && path.find('/', 4) == std::string::npos && a.body.contains("id")) {
            sides_[t].ids[path.substr(4)].insert(a.body["id"].get<std::string>());
          }
          if (row.shape != Shape::kList || a.status != 200) continue;
          // Nothing leaked: the other side's items never appear unless "both".
          ++lists;
          const std::string collection = path.substr(4);
          const std::string sees = expect.substr(expect.find(' ') + 1);
          const std::set<std::string> shown = item_ids(a);
          EXPECT_TRUE(a.body["next"].is_null()) << where << ": one page expected";
          const std::string own = own_list_id(collection, role, sides_[caller]);
          const std::string theirs = own_list_id(collection, role, sides_[1 - caller]);
          EXPECT_EQ(shown.count(own), sees == "none" ? 0u : 1u) << where << " own " << own;
          if (sees == "both") {
            EXPECT_EQ(shown.count(theirs), 1u) << where << " other " << theirs;
          } else {
            EXPECT_EQ(shown.count(theirs), 0u) << where << " leaked " << theirs;
            for (const std::string& id : sides_[1 - caller].ids[collection]) {
              EXPECT_EQ(shown.count(id), 0u) << where << " leaked " << id;
            }
          }
        }
      }
    }
  }
  std::cout << "[ isolation] " << matrix().size() << " routes x " << kRoles
            << " roles x (own, other) x callers of 2 sides: " << checked << " requests, "
            << refused_unchanged << " refused mutations unchanged, " << lists
            << " lists checked for leaks\n";
}

TEST_F(IsolationTest, RetiredUsersAndRevokedTokensAre401OnEveryRoute) {
  const User retired = make_user("tenant-admin", "bellhollow", "");
  const User revoked = make_user("tenant-admin", "bellhollow", "");
  ASSERT_EQ(server_.post("/v1/users/" + retired.id + "/retire", admin_, json::object()).status,
            200);
  Answer me = server_.get("/v1/whoami", revoked.token);
  ASSERT_EQ(me.status, 200);
  ASSERT_EQ(server_
                .post("/v1/tokens/" + me.body["token"].get<std::string>() + "/revoke", admin_,
                      json::object())
                .status,
            200);
  const std::string before = snapshot();
  const std::int64_t seq = audit_seq();
  int checked = 0;
  for (const std::string& route : Server::routes()) {
    const auto space = route.find(' ');
    const std::string method = route.substr(0, space);
    std::string path = route.substr(space + 1);
    for (auto at = path.find('{'); at != std::string::npos; at = path.find('{')) {
      path.replace(at, path.find('}') - at + 1, sides_[0].job);
    }
    const std::string body = method == "GET" ? "" : lease_body(sides_[0]).dump();
    if (kPublic.count(route)) {
      EXPECT_EQ(server_.request(method, path, "", body).status, 200) << route;
      continue;
    }
    for (const std::string& tok :
         {retired.token, revoked.token, std::string(), std::string("st_not-a-token")}) {
      Answer a = server_.request(method, path, tok, body);
      EXPECT_EQ(a.status, 401) << route << ": " << a.text.substr(0, 200);
      EXPECT_EQ(a.body["error"]["code"], "unauthenticated") << route;
      ++checked;
    }
  }
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(audit_seq(), seq);
  EXPECT_GE(checked, 4 * 50);
}

TEST_F(IsolationTest, NoRoleMakesAUserAboveItself) {
  const Side& a = sides_[0];
  const std::int64_t seq = audit_seq();
  struct Ask {
    std::string token;
    json body;
  };
  const std::vector<Ask> asks = {
      {a.tenant_admin.token, {{"name", "x1"}, {"role", "admin"}}},
      {a.tenant_admin.token, {{"name", "x2"}, {"role", "auditor"}}},
      {a.tenant_admin.token, {{"name", "x3"}, {"role", "operator-admin"}, {"operator", a.op}}},
      {a.tenant_admin.token, {{"name", "x4"}, {"role", "engineer"}, {"org", "tsukimi"}}},
      {a.op_admin.token, {{"name", "x5"}, {"role", "admin"}}},
      {a.op_admin.token, {{"name", "x6"}, {"role", "tenant-admin"}, {"org", a.org}}},
      {a.op_admin.token,
       {{"name", "x7"}, {"role", "operator-admin"}, {"operator", "cascade-ridge"}}},
      {a.engineer.token, {{"name", "x8"}, {"role", "engineer"}, {"org", a.org}}},
      {auditor_, {{"name", "x9"}, {"role", "auditor"}}},
      // Compliance and agents: an admin's to make (an operator-admin makes
      // agents of its own sites only).
      {a.tenant_admin.token, {{"name", "x10"}, {"role", "compliance"}}},
      {a.op_admin.token, {{"name", "x11"}, {"role", "compliance"}}},
      {a.tenant_admin.token, {{"name", "x12"}, {"role", "agent"}, {"sites", {a.site}}}},
      {a.op_admin.token, {{"name", "x13"}, {"role", "agent"}, {"sites", {sides_[1].site}}}},
      {compliance_, {{"name", "x14"}, {"role", "engineer"}, {"org", a.org}}},
      {a.agent_user.token, {{"name", "x15"}, {"role", "agent"}, {"sites", {a.site}}}},
  };
  for (const Ask& ask : asks) {
    Answer made = server_.post("/v1/users", ask.token, ask.body);
    EXPECT_EQ(made.status, 403) << ask.body.dump() << ": " << made.text;
  }
  // Nor retires itself, nor its betters.
  EXPECT_EQ(
      server_.post("/v1/users/" + a.tenant_admin.id + "/retire", a.tenant_admin.token, {}).status,
      403);
  EXPECT_EQ(server_.post("/v1/users/" + a.op_admin.id + "/retire", a.tenant_admin.token, {}).status,
            404);
  EXPECT_EQ(audit_seq(), seq);
}

TEST_F(IsolationTest, AnotherTenantsThingsAreNotReachedIndirectly) {
  const Side& a = sides_[0];
  const Side& b = sides_[1];
  // A job of A naming B's dataset: as unknown as a dataset that does not exist.
  json job = job_body(a);
  job["datasets"] = {b.dataset};
  Answer theirs = server_.post("/v1/jobs", a.engineer.token, job);
  job["datasets"] = {"no-such-dataset"};
  Answer none = server_.post("/v1/jobs", a.engineer.token, job);
  EXPECT_EQ(theirs.status, 422) << theirs.text;
  EXPECT_EQ(theirs.status, none.status);
  EXPECT_EQ(theirs.body["error"]["code"], none.body["error"]["code"]);
  // So is a decision on a run with it.
  json ask = {{"action", "run"},
              {"org", a.org},
              {"pool", a.pool},
              {"job", {{"gpus", 8}, {"datasets", {b.dataset}}}}};
  Answer decided = server_.post("/v1/decisions", a.tenant_admin.token, ask);
  ask["job"]["datasets"] = {"no-such-dataset"};
  Answer unknown = server_.post("/v1/decisions", a.tenant_admin.token, ask);
  EXPECT_EQ(decided.status, 422) << decided.text;
  EXPECT_EQ(decided.status, unknown.status);
  EXPECT_EQ(decided.body["error"]["code"], unknown.body["error"]["code"]);
  // Own dataset: decided.
  ask["job"]["datasets"] = {a.dataset};
  EXPECT_EQ(server_.post("/v1/decisions", a.tenant_admin.token, ask).status, 200);
  // Filters do not widen what a tenant sees.
  for (const char* path :
       {"/v1/leases?org=tsukimi", "/v1/jobs?org=tsukimi", "/v1/datasets?owner=tsukimi",
        "/v1/licences?holder=tsukimi", "/v1/users?org=tsukimi"}) {
    Answer list = server_.get(path, a.tenant_admin.token);
    EXPECT_EQ(list.status, 200) << path;
    EXPECT_TRUE(list.body["items"].empty()) << path << ": " << list.text;
  }
  // An operator-admin sees the leases on its pools only, whatever it filters.
  Answer other_pool = server_.get("/v1/leases?pool=" + b.pool, a.op_admin.token);
  EXPECT_TRUE(other_pool.body["items"].empty()) << other_pool.text;
  // The metrics name pools, never orgs.
  const std::string metrics = server_.get("/metrics", admin_).text;
  EXPECT_EQ(metrics.find(a.org), std::string::npos);
  EXPECT_EQ(metrics.find(b.org), std::string::npos);
}

TEST_F(IsolationTest, AnAgentHearsOfNoOtherOperatorsJobs) {
  // An agent's reports reach the jobs at its sites and its own runs only: one
  // naming another operator's job, whatever its state, is answered as one
  // naming no job, and changes nothing.
  const std::string missing = "j-99999999";
  for (int c = 0; c < 2; ++c) {
    Side& mine = sides_[c];
    Side& theirs = sides_[1 - c];
    // Theirs: a job running at their agent, and one placed, then cancelled
    // before their agent started it (its attempt has no run).
    admin_make("/v1/leases", lease_body(theirs), theirs);
    const std::string cancelled = admin_make("/v1/jobs", job_body(theirs), theirs);
    ASSERT_EQ(server_.post("/v1/schedule", admin_, nullptr).status, 200);
    ASSERT_EQ(server_.get("/v1/jobs/" + cancelled, admin_).body["state"], "assigned");
    ASSERT_EQ(server_.post("/v1/jobs/" + cancelled + "/cancel", theirs.engineer.token, {}).status,
              200);
    const std::string before = snapshot();
    const std::int64_t seq = audit_seq();
    for (const std::string& job : {theirs.job, cancelled}) {
      for (const json& report :
           {json{{"event", "started"}, {"handle", "x"}}, json{{"event", "log"}, {"text", "x\n"}},
            json{{"event", "checkpoint"}, {"path", "/x"}},
            json{{"event", "ack"}, {"assignment", job + "/1/cancel"}},
            json{{"event", "exited"}, {"outcome", "succeeded"}, {"exit_code", 0}}}) {
        json theirs_report = report;
        theirs_report["job"] = job;
        theirs_report["attempt"] = 1;
        json none = theirs_report;
        none["job"] = missing;
        const std::string where =
            "side " + std::string(1, "AB"[c]) + "'s agent on " + job + ": " + report.dump();
        Answer a = server_.post("/v1/agents/" + mine.agent + "/reports", mine.op_admin.token,
                                {{"reports", {theirs_report, none}}});
        ASSERT_EQ(a.status, 200) << where << ": " << a.text;
        EXPECT_EQ(a.body["results"][0]["applied"], false) << where << ": " << a.text;
        std::string why = a.body["results"][0].value("why", "");
        if (why.find(job) != std::string::npos) why.replace(why.find(job), job.size(), missing);
        EXPECT_EQ(why, a.body["results"][1].value("why", "?")) << where;
      }
    }
    EXPECT_EQ(snapshot(), before) << "side "
                                  << "AB"[c] << "'s agent changed the other's jobs";
    EXPECT_EQ(audit_seq(), seq);
    // Its own job, cancelled once its start was handed out, is still its to
    // report started (and then to stop).
    admin_make("/v1/leases", lease_body(mine), mine);
    const std::string own = admin_make("/v1/jobs", job_body(mine), mine);
    ASSERT_EQ(server_.post("/v1/schedule", admin_, nullptr).status, 200);
    Answer handed = server_.get("/v1/agents/" + mine.agent + "/assignments", mine.op_admin.token);
    ASSERT_EQ(handed.body["assignments"].size(), 1u) << handed.text;
    ASSERT_EQ(handed.body["assignments"][0]["id"], own + "/1/start");
    ASSERT_EQ(server_.post("/v1/jobs/" + own + "/cancel", mine.engineer.token, {}).status, 200);
    Answer started = server_.post(
        "/v1/agents/" + mine.agent + "/reports", mine.op_admin.token,
        {{"reports", {{{"job", own}, {"attempt", 1}, {"event", "started"}, {"handle", "2"}}}}});
    EXPECT_EQ(started.body["results"][0]["applied"], true) << started.text;
    handed = server_.get("/v1/agents/" + mine.agent + "/assignments", mine.op_admin.token);
    ASSERT_EQ(handed.body["assignments"].size(), 1u) << handed.text;
    EXPECT_EQ(handed.body["assignments"][0]["id"], own + "/1/cancel");
  }
}

}  // namespace
}  // namespace straits::api
