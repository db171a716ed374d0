// What the control plane keeps in its store: the managed catalog entities,
// users and their API tokens, leases, jobs with their events, and the
// append-only, hash-chained audit log.
//
// The store does not interpret the JSON bodies it keeps (an entity's body, a
// job's spec, a decision): the api module owns their shape. It keeps the
// columns it needs to index and to check (ids, org, pool, state, times), and
// it alone computes the audit chain's hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace straits::store {

// A catalog entity managed through the API: kind is "operator", "site",
// "pool", "org", "licence" or "dataset". Retired entities stay (a lease, a
// job or an audit event may refer to them); nothing is ever deleted.
struct EntityRecord {
  std::string kind;
  std::string id;
  std::string body_json;  // the entity as the API shows it
  std::optional<Instant> retired_at;
  Instant updated_at;
  friend bool operator==(const EntityRecord&, const EntityRecord&) = default;
};

// role: "admin", "operator-admin", "tenant-admin", "engineer", "auditor",
// "compliance" or "agent". org is set for tenant roles, operator_id for
// operator-admin (and for an agent whose sites are one operator's); sites
// for an agent only (the sites it may act for; migration 0004). A name is
// unique within its scope (an org, an operator, or the roles of none), not
// across tenants: the api module checks it, the store does not.
struct UserRecord {
  std::string id;
  std::string name;
  std::string role;
  std::string org;
  std::string operator_id;
  Instant created_at;
  std::optional<Instant> retired_at;
  std::vector<std::string> sites = {};  // site ids; no ',' (catalog ids)
  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

// A tenant's (or operator's) change of a compliance fact, waiting for a
// compliance user or an admin (maker-checker; migration 0004). state:
// "pending", "approved" or "rejected". body_json holds what the api module
// shows of it: the patch, and the entity before and as it would be after.
struct ChangeRequestRecord {
  std::string id;
  std::string kind;       // the entity's kind: "dataset", "site", ...
  std::string entity_id;  // its id
  std::string org;        // the requester's org ("" for an operator-admin)
  std::string operator_id;
  std::string state = "pending";
  std::string body_json;
  std::string requested_by;  // user id
  Instant requested_at;
  std::string decided_by;  // user id, "" while pending
  std::optional<Instant> decided_at;
  std::string reason;  // the checker's, "" while pending
  friend bool operator==(const ChangeRequestRecord&, const ChangeRequestRecord&) = default;
};

// An API token: only a hash of the secret is kept (hex), never the secret.
struct TokenRecord {
  std::string id;
  std::string user_id;
  std::string hash;
  std::string label;
  Instant created_at;
  std::optional<Instant> revoked_at;
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

// state: "active" or "terminated" (a lease is never deleted).
struct LeaseRecord {
  std::string id;
  std::string org;
  std::string pool;
  std::int32_t gpus = 0;
  Instant start;
  Instant end;
  std::int64_t price_micros = 0;  // per GPU-hour
  std::string state = "active";
  Instant created_at;
  std::string created_by;  // user id
  std::optional<Instant> terminated_at;
  std::string decision_json;  // the policy decision it was created under
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

// state: "queued", "assigned", "running", "checkpointing", "succeeded",
// "failed", "cancelled". The spec is what was submitted; the placement and
// decision are the scheduler's latest, "" while it has none.
struct JobRecord {
  std::string id;
  std::string org;
  std::string team;
  std::string state = "queued";
  std::string spec_json;
  std::string placement_json;
  std::string decision_json;
  Instant submitted_at;
  std::string submitted_by;  // user id
  Instant updated_at;
  // Its runs at site agents (issue 7): the current attempt, the agent and
  // handle, the last checkpoint, the outcome; "" before the first placement.
  std::string run_json;
  friend bool operator==(const JobRecord&, const JobRecord&) = default;
};

// A site agent (issue 7): registered by name; state "active" or "lost".
// body_json holds what the API shows of it (sites, backend, version, who
// registered it). When it was last heard from is kept in memory only: a
// heartbeat is not worth a durable write.
struct AgentRecord {
  std::string id;
  std::string name;
  std::string state = "active";
  std::string body_json;
  Instant registered_at;
  Instant updated_at;
  friend bool operator==(const AgentRecord&, const AgentRecord&) = default;
};

// A rule set (issue 17): rule packs given as text, stored and versioned.
// state: "draft" -> "proposed" -> "adopted" (deciding from `effective`) ->
// "retired". packs_json holds the packs as the api module reads them:
// {"packs":[{"name":..,"files":{FILE:TEXT}}],"params":{NAME:VALUE}}; hash is
// the hex SHA-256 of their canonical encoding (the api computes it, and
// every decision made under the set names it). catalog_fingerprint names the
// catalog the packs were checked against when pushed.
struct RulesetRecord {
  std::string id;
  std::string name;
  std::string state = "draft";
  std::string hash;
  std::string packs_json;
  std::string catalog_fingerprint;
  std::optional<Instant> effective;  // set when adopted
  Instant created_at;
  std::string created_by;  // user id, or "system" for the set made from --rules
  std::optional<Instant> proposed_at;
  std::string proposed_by;  // "" until proposed
  std::optional<Instant> adopted_at;
  std::string adopted_by;
  std::optional<Instant> retired_at;
  std::string retired_by;
  friend bool operator==(const RulesetRecord&, const RulesetRecord&) = default;
};

// What happened to a job, in order: submitted, placed, checkpoint, moved...
struct JobEvent {
  std::string job_id;
  std::int64_t seq = 0;  // 1, 2, ... per job
  Instant at;
  std::string kind;
  std::string message;
  std::string data_json;  // "" or an object with details (a decision, a placement)
  friend bool operator==(const JobEvent&, const JobEvent&) = default;
};

// An audit event as the caller states it; the store numbers it and chains it.
struct NewAuditEvent {
  Instant at;
  std::string actor;        // user id, or "system" for the scheduling loop
  std::string action;       // "lease.create", "job.cancel", "user.create", ...
  std::string subject;      // "lease/l-000012"
  std::string before_json;  // "" when nothing was there before
  std::string after_json;
  std::string decision_json;  // "" when no policy decision was involved
};

// An audit event as stored. hash = hex(SHA-256 of prev_hash and every field
// above, each length-prefixed); the first event's prev_hash is 64 zeros.
// Exactly: lower-case hex of SHA-256 over, in this order, each field as
// "LENGTH:BYTES" (LENGTH in decimal): prev_hash, seq (decimal), at (unix
// microseconds, decimal), actor, action, subject, before_json, after_json,
// decision_json.
struct AuditEvent {
  std::int64_t seq = 0;  // 1, 2, ... without gaps
  Instant at;
  std::string actor;
  std::string action;
  std::string subject;
  std::string before_json;
  std::string after_json;
  std::string decision_json;
  std::string prev_hash;
  std::string hash;
  friend bool operator==(const AuditEvent&, const AuditEvent&) = default;
};

// The hash an event must carry given its fields and prev_hash (what verify
// recomputes; exposed so a client can verify events fetched over the API).
std::string audit_hash(const AuditEvent& event);
inline constexpr const char* kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// A signed head of the audit chain (issue 15): at the end of each commit
// that appended events, the last event's seq and hash, signed with the
// server's Ed25519 key (signing.h), a key the database does not hold. Kept
// in the table audit_heads (same transaction as the events) and, with a
// witness file, outside the database too. Whoever rewrites the chain from an
// event on, or cuts its tail, cannot sign the heads that would match.
struct SignedHead {
  std::int64_t seq = 0;
  std::string hash;        // event seq's hash
  Instant at;              // when it was signed
  std::string public_key;  // hex of the 32-byte Ed25519 public key
  std::string signature;   // hex of the 64-byte signature of head_message()
  friend bool operator==(const SignedHead&, const SignedHead&) = default;
};

// The bytes a head's signature covers: "straits-audit-head-v1", seq, hash and
// at (unix microseconds), each as "LENGTH:BYTES" as in audit_hash.
std::string head_message(std::int64_t seq, const std::string& hash, Instant at);
// Whether head.signature is a valid signature of its message by
// head.public_key (both hex). False for malformed hex too.
bool head_signature_valid(const SignedHead& head);

// The state the chain vouches for (issue 15): every lease and job record the
// store writes is digested into the chain. Each commit that writes leases or
// jobs appends one event, action kStateDigestAction, whose after_json is
// {"leases":[["ID","DIGEST"],...],"jobs":[...]} (digests as written, in order).
// A digest is the hex SHA-256 of the record's columns, each "LENGTH:BYTES"
// (times as unix microseconds, an unset time as "").
inline constexpr const char* kStateDigestAction = "state.digest";
std::string record_digest(const LeaseRecord& lease);
std::string record_digest(const JobRecord& job);

// Writes committed together, in one transaction, with their audit events:
// all of them or none. Records are upserts by id (a job event by job and
// seq); each kind is written in the order given.
struct Batch {
  std::vector<EntityRecord> entities;
  std::vector<UserRecord> users;
  std::vector<TokenRecord> tokens;
  std::vector<LeaseRecord> leases;
  std::vector<JobRecord> jobs;
  std::vector<JobEvent> job_events;
  std::vector<AgentRecord> agents;
  std::vector<ChangeRequestRecord> change_requests;
  std::vector<RulesetRecord> rulesets;
  std::vector<NewAuditEvent> audit;
  // The hash of the rule set in force when the batch was made: the state
  // digest event the store adds names it ({"ruleset":HASH} as its
  // decision_json), as the caller's events do. "" leaves it out.
  std::string ruleset;
  bool empty() const {
    return entities.empty() && users.empty() && tokens.empty() && leases.empty() && jobs.empty() &&
           job_events.empty() && agents.empty() && change_requests.empty() && rulesets.empty() &&
           audit.empty();
  }
};

// Everything the control plane holds in memory, as read at its start.
struct Snapshot {
  std::vector<EntityRecord> entities;                // by kind, then id
  std::vector<UserRecord> users;                     // by id
  std::vector<TokenRecord> tokens;                   // by id
  std::vector<LeaseRecord> leases;                   // by id
  std::vector<JobRecord> jobs;                       // by id
  std::vector<JobEvent> job_events;                  // by job, then seq
  std::vector<AgentRecord> agents;                   // by id
  std::vector<ChangeRequestRecord> change_requests;  // by id
  std::vector<RulesetRecord> rulesets;               // by id
  std::int64_t audit_seq = 0;                        // the last event's, 0 when none
  std::string audit_head = kAuditGenesis;            // the last event's hash
};

// What verifying the audit chain found.
struct AuditVerification {
  // What an auditor records to compare later: removing the last events
  // leaves a chain that verifies, with a smaller count and another head.
  std::int64_t events = 0;        // events read
  std::string head;               // the last event's hash
  std::int64_t signed_heads = 0;  // signed heads checked (0: none stored or given)
  // One line each: "event 12: hash does not match its contents (altered)",
  // "event 13 missing: 12 is followed by 14 (removed)", ... Empty: intact.
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

}  // namespace straits::store
