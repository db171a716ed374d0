#include "store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <system_error>

#include "store/internal/connection.h"

namespace straits::store {
namespace {

using internal::Connection;
using internal::Value;

// The schema, one step a migration, in order. Written to every store: never
// edit or reorder one that has shipped, add a new one at the end. The SQL is
// the subset both SQLite and PostgreSQL read the same way.
struct Migration {
  const char* name;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {"0001 audit log",
     // Append-only and hash-chained (issue 6): each event's hash covers the
     // previous event's, so a changed or removed event breaks the chain.
     "CREATE TABLE audit_events ("
     "  seq BIGINT PRIMARY KEY,"
     "  at_us BIGINT NOT NULL,"
     "  actor TEXT NOT NULL,"
     "  action TEXT NOT NULL,"
     "  subject TEXT NOT NULL,"
     "  before_json TEXT,"
     "  after_json TEXT,"
     "  decision_json TEXT,"
     "  prev_hash TEXT NOT NULL,"
     "  hash TEXT NOT NULL UNIQUE)"},
    {"0002 control plane",
     // What the control plane keeps (records.h). Times are unix microseconds;
     // an optional time is NULL while unset; text never is ("" for none).
     "CREATE TABLE entities ("
     "  kind TEXT NOT NULL,"
     "  id TEXT NOT NULL,"
     "  body_json TEXT NOT NULL,"
     "  retired_at_us BIGINT,"
     "  updated_at_us BIGINT NOT NULL,"
     "  PRIMARY KEY (kind, id));"
     "CREATE TABLE users ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE,"
     "  role TEXT NOT NULL,"
     "  org TEXT NOT NULL,"
     "  operator_id TEXT NOT NULL,"
     "  created_at_us BIGINT NOT NULL,"
     "  retired_at_us BIGINT);"
     "CREATE TABLE tokens ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  user_id TEXT NOT NULL REFERENCES users (id),"
     "  hash TEXT NOT NULL UNIQUE,"
     "  label TEXT NOT NULL,"
     "  created_at_us BIGINT NOT NULL,"
     "  revoked_at_us BIGINT);"
     "CREATE TABLE leases ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  org TEXT NOT NULL,"
     "  pool TEXT NOT NULL,"
     "  gpus BIGINT NOT NULL,"
     "  start_us BIGINT NOT NULL,"
     "  end_us BIGINT NOT NULL,"
     "  price_micros BIGINT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  created_at_us BIGINT NOT NULL,"
     "  created_by TEXT NOT NULL,"
     "  terminated_at_us BIGINT,"
     "  decision_json TEXT NOT NULL);"
     "CREATE INDEX leases_pool_state ON leases (pool, state);"
     "CREATE TABLE jobs ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  org TEXT NOT NULL,"
     "  team TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  spec_json TEXT NOT NULL,"
     "  placement_json TEXT NOT NULL,"
     "  decision_json TEXT NOT NULL,"
     "  submitted_at_us BIGINT NOT NULL,"
     "  submitted_by TEXT NOT NULL,"
     "  updated_at_us BIGINT NOT NULL);"
     "CREATE INDEX jobs_org_state ON jobs (org, state);"
     "CREATE TABLE job_events ("
     "  job_id TEXT NOT NULL REFERENCES jobs (id),"
     "  seq BIGINT NOT NULL,"
     "  at_us BIGINT NOT NULL,"
     "  kind TEXT NOT NULL,"
     "  message TEXT NOT NULL,"
     "  data_json TEXT NOT NULL,"
     "  PRIMARY KEY (job_id, seq))"},
    {"0003 site agents",
     // Site agents and the runs of jobs on them (issue 7).
     "ALTER TABLE jobs ADD COLUMN run_json TEXT NOT NULL DEFAULT '';"
     "CREATE TABLE agents ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE,"
     "  state TEXT NOT NULL,"
     "  body_json TEXT NOT NULL,"
     "  registered_at_us BIGINT NOT NULL,"
     "  updated_at_us BIGINT NOT NULL)"},
    {"0004 roles and change requests",
     // Agents' own credentials (a user of role agent bound to sites), and
     // change requests of compliance facts (maker-checker). User names are
     // unique per org or operator and agent names per operator, no longer
     // across the store: a UNIQUE across tenants answered one tenant whether
     // another's user or agent of that name existed. Neither engine drops a
     // column's UNIQUE the same way, so both tables are rebuilt (tokens too:
     // they refer to users), the rows copied over.
     "CREATE TABLE users_0004 AS SELECT id, name, role, org, operator_id, created_at_us, "
     "  retired_at_us FROM users;"
     "CREATE TABLE tokens_0004 AS SELECT id, user_id, hash, label, created_at_us, revoked_at_us "
     "  FROM tokens;"
     "CREATE TABLE agents_0004 AS SELECT id, name, state, body_json, registered_at_us, "
     "  updated_at_us FROM agents;"
     "DROP TABLE tokens;"
     "DROP TABLE users;"
     "DROP TABLE agents;"
     "CREATE TABLE users ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  role TEXT NOT NULL,"
     "  org TEXT NOT NULL,"
     "  operator_id TEXT NOT NULL,"
     "  created_at_us BIGINT NOT NULL,"
     "  retired_at_us BIGINT,"
     "  sites TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE tokens ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  user_id TEXT NOT NULL REFERENCES users (id),"
     "  hash TEXT NOT NULL UNIQUE,"
     "  label TEXT NOT NULL,"
     "  created_at_us BIGINT NOT NULL,"
     "  revoked_at_us BIGINT);"
     "CREATE TABLE agents ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  body_json TEXT NOT NULL,"
     "  registered_at_us BIGINT NOT NULL,"
     "  updated_at_us BIGINT NOT NULL);"
     "INSERT INTO users (id, name, role, org, operator_id, created_at_us, retired_at_us) "
     "  SELECT id, name, role, org, operator_id, created_at_us, retired_at_us FROM users_0004;"
     "INSERT INTO tokens (id, user_id, hash, label, created_at_us, revoked_at_us) "
     "  SELECT id, user_id, hash, label, created_at_us, revoked_at_us FROM tokens_0004;"
     "INSERT INTO agents (id, name, state, body_json, registered_at_us, updated_at_us) "
     "  SELECT id, name, state, body_json, registered_at_us, updated_at_us FROM agents_0004;"
     "DROP TABLE users_0004;"
     "DROP TABLE tokens_0004;"
     "DROP TABLE agents_0004;"
     "CREATE TABLE change_requests ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  kind TEXT NOT NULL,"
     "  entity_id TEXT NOT NULL,"
     "  org TEXT NOT NULL,"
     "  operator_id TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  body_json TEXT NOT NULL,"
     "  requested_by TEXT NOT NULL,"
     "  requested_at_us BIGINT NOT NULL,"
     "  decided_by TEXT NOT NULL,"
     "  decided_at_us BIGINT,"
     "  reason TEXT NOT NULL);"
     "CREATE INDEX change_requests_org_state ON change_requests (org, state)"},
    {"0005 signed audit heads",
     // The chain's head signed at each commit by the server's key, which the
     // database does not hold (issue 15): a re-hashed chain or a cut tail no
     // longer matches a signature that only that key could make.
     "CREATE TABLE audit_heads ("
     "  seq BIGINT NOT NULL PRIMARY KEY,"
     "  hash TEXT NOT NULL,"
     "  at_us BIGINT NOT NULL,"
     "  public_key TEXT NOT NULL,"
     "  signature TEXT NOT NULL)"},
    {"0006 rule sets",
     // Rule packs as stored, versioned objects adopted without a restart
     // (issue 17): a set's packs as text, its content hash, its state and
     // who moved it there when.
     "CREATE TABLE rulesets ("
     "  id TEXT NOT NULL PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  hash TEXT NOT NULL,"
     "  packs_json TEXT NOT NULL,"
     "  catalog_fingerprint TEXT NOT NULL,"
     "  effective_us BIGINT,"
     "  created_at_us BIGINT NOT NULL,"
     "  created_by TEXT NOT NULL,"
     "  proposed_at_us BIGINT,"
     "  proposed_by TEXT NOT NULL,"
     "  adopted_at_us BIGINT,"
     "  adopted_by TEXT NOT NULL,"
     "  retired_at_us BIGINT,"
     "  retired_by TEXT NOT NULL);"
     "CREATE INDEX rulesets_state ON rulesets (state)"},
};
constexpr int kLatest = static_cast<int>(std::size(kMigrations));

// Held while migrating or committing on PostgreSQL (pg_advisory_xact_lock):
// one writing transaction at a time, never a commit during a migration.
// "straits" in ASCII.
constexpr std::int64_t kMigrationLock = 0x73747261697473;
// claim_writer's session lock on PostgreSQL: (this class, a hash of the
// schema), so that stores in different schemas of one database are apart.
// "strw" in ASCII.
constexpr std::int64_t kWriterLockClass = 0x73747277;
// Read connections a PostgreSQL or SQLite-file store opens, when needed.
constexpr std::size_t kReaders = 4;

const char* kCreateMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  applied_at_us BIGINT NOT NULL)";

std::int64_t to_int(const std::string& text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Value of(const std::string& s) {
  return Value::of(s);
}
Value of(std::int64_t i) {
  return Value::of(i);
}
Value of(Instant t) {
  return Value::of(t.unix_microseconds());
}
Value of(const std::optional<Instant>& t) {
  return t ? of(*t) : Value::none();
}
// An agent's sites in one column: "a,b" (catalog ids hold no ',').
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}
std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    out.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}
Instant instant(const std::string& text) {
  return Instant::from_unix_microseconds(to_int(text));
}
// A NULL column reads as "", which no time is.
std::optional<Instant> maybe_instant(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return instant(text);
}

// Upserts by primary key: every column but the key is replaced.
const std::string kUpsertEntity =
    "INSERT INTO entities (kind, id, body_json, retired_at_us, updated_at_us) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, id) DO UPDATE SET "
    "body_json = excluded.body_json, retired_at_us = excluded.retired_at_us, "
    "updated_at_us = excluded.updated_at_us";
const std::string kUpsertUser =
    "INSERT INTO users (id, name, role, org, operator_id, created_at_us, retired_at_us, sites) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET "
    "name = excluded.name, role = excluded.role, org = excluded.org, "
    "operator_id = excluded.operator_id, created_at_us = excluded.created_at_us, "
    "retired_at_us = excluded.retired_at_us, sites = excluded.sites";
const std::string kUpsertChangeRequest =
    "INSERT INTO change_requests (id, kind, entity_id, org, operator_id, state, body_json, "
    "requested_by, requested_at_us, decided_by, decided_at_us, reason) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET "
    "kind = excluded.kind, entity_id = excluded.entity_id, org = excluded.org, "
    "operator_id = excluded.operator_id, state = excluded.state, body_json = excluded.body_json, "
    "requested_by = excluded.requested_by, requested_at_us = excluded.requested_at_us, "
    "decided_by = excluded.decided_by, decided_at_us = excluded.decided_at_us, "
    "reason = excluded.reason";
const std::string kUpsertRuleset =
    "INSERT INTO rulesets (id, name, state, hash, packs_json, catalog_fingerprint, effective_us, "
    "created_at_us, created_by, proposed_at_us, proposed_by, adopted_at_us, adopted_by, "
    "retired_at_us, retired_by) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
    "ON CONFLICT (id) DO UPDATE SET "
    "name = excluded.name, state = excluded.state, hash = excluded.hash, "
    "packs_json = excluded.packs_json, catalog_fingerprint = excluded.catalog_fingerprint, "
    "effective_us = excluded.effective_us, created_at_us = excluded.created_at_us, "
    "created_by = excluded.created_by, proposed_at_us = excluded.proposed_at_us, "
    "proposed_by = excluded.proposed_by, adopted_at_us = excluded.adopted_at_us, "
    "adopted_by = excluded.adopted_by, retired_at_us = excluded.retired_at_us, "
    "retired_by = excluded.retired_by";
const std::string kUpsertToken =
    "INSERT INTO tokens (id, user_id, hash, label, created_at_us, revoked_at_us) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
    "user_id = excluded.user_id, hash = excluded.hash, label = excluded.label, "
    "created_at_us = excluded.created_at_us, revoked_at_us = excluded.revoked_at_us";
const std::string kUpsertLease =
    "INSERT INTO leases (id, org, pool, gpus, start_us, end_us, price_micros, state, "
    "created_at_us, created_by, terminated_at_us, decision_json) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET "
    "org = excluded.org, pool = excluded.pool, gpus = excluded.gpus, "
    "start_us = excluded.start_us, end_us = excluded.end_us, "
    "price_micros = excluded.price_micros, state = excluded.state, "
    "created_at_us = excluded.created_at_us, created_by = excluded.created_by, "
    "terminated_at_us = excluded.terminated_at_us, decision_json = excluded.decision_json";
const std::string kUpsertJob =
    "INSERT INTO jobs (id, org, team, state, spec_json, placement_json, decision_json, "
    "submitted_at_us, submitted_by, updated_at_us, run_json) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO UPDATE SET "
    "org = excluded.org, team = excluded.team, state = excluded.state, "
    "spec_json = excluded.spec_json, placement_json = excluded.placement_json, "
    "decision_json = excluded.decision_json, submitted_at_us = excluded.submitted_at_us, "
    "submitted_by = excluded.submitted_by, updated_at_us = excluded.updated_at_us, "
    "run_json = excluded.run_json";
const std::string kUpsertAgent =
    "INSERT INTO agents (id, name, state, body_json, registered_at_us, updated_at_us) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
    "name = excluded.name, state = excluded.state, body_json = excluded.body_json, "
    "registered_at_us = excluded.registered_at_us, updated_at_us = excluded.updated_at_us";
const std::string kUpsertJobEvent =
    "INSERT INTO job_events (job_id, seq, at_us, kind, message, data_json) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id, seq) DO UPDATE SET "
    "at_us = excluded.at_us, kind = excluded.kind, message = excluded.message, "
    "data_json = excluded.data_json";
const std::string kInsertAudit =
    "INSERT INTO audit_events (seq, at_us, actor, action, subject, before_json, after_json, "
    "decision_json, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const std::string kLastAudit = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1";
const std::string kSelectAudit =
    "SELECT seq, at_us, actor, action, subject, before_json, after_json, decision_json, "
    "prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2";

const std::string kInsertHead =
    "INSERT INTO audit_heads (seq, hash, at_us, public_key, signature) "
    "VALUES ($1, $2, $3, $4, $5)";
const std::string kSelectHeads =
    "SELECT seq, hash, at_us, public_key, signature FROM audit_heads WHERE seq > $1 "
    "ORDER BY seq LIMIT $2";

// A JSON string: ids are checked by the api, but any byte must still give
// JSON that records.cc reads back (control characters as \u00XX; bytes
// past ASCII as they are, so UTF-8 stays UTF-8).
void add_json_string(std::string& out, const std::string& text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// The state digest event of a batch that writes leases or jobs (records.h:
// kStateDigestAction): the store adds it itself, so that no caller can write
// a lease or a job the chain does not vouch for.
std::optional<NewAuditEvent> state_digest(const Batch& batch, Instant now) {
  if (batch.leases.empty() && batch.jobs.empty()) return std::nullopt;
  std::string body = "{";
  // "kind":[[id,digest],...]
  auto add_digests = [&body](const char* kind, const auto& records) {
    body += std::string(body.size() > 1 ? "," : "") + "\"" + kind + "\":[";
    for (std::size_t i = 0; i < records.size(); ++i) {
      body += i ? ",[" : "[";
      add_json_string(body, records[i].id);
      body += ',';
      add_json_string(body, record_digest(records[i]));
      body += ']';
    }
    body += ']';
  };
  add_digests("leases", batch.leases);
  add_digests("jobs", batch.jobs);
  body += "}";
  std::string ruleset;
  if (!batch.ruleset.empty()) {
    ruleset = "{\"ruleset\":";
    add_json_string(ruleset, batch.ruleset);
    ruleset += "}";
  }
  return NewAuditEvent{now, "system",        kStateDigestAction, "state",
                       "",  std::move(body), std::move(ruleset)};
}

AuditEvent audit_event(const internal::Row& r) {
  return {to_int(r[0]), instant(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]};
}

// "what: message" keeping the code.
Error failed(const Error& error, const std::string& what) {
  return Error(error.code(), what + ": " + error.message());
}

// Writes every record of the batch, then its audit events after the last
// one (and the state digest of its leases and jobs), inside the caller's
// transaction; with a key, the new head signed into audit_heads too.
// Returns the events as stored.
Result<std::vector<AuditEvent>> write_batch(Connection& db, const Batch& batch, Instant now,
                                            const SigningKey* key,
                                            std::optional<SignedHead>& signed_head) {
  for (const EntityRecord& e : batch.entities) {
    auto r = db.query(kUpsertEntity,
                      {of(e.kind), of(e.id), of(e.body_json), of(e.retired_at), of(e.updated_at)});
    if (!r) return failed(r.error(), "entity " + e.kind + "/" + e.id);
  }
  for (const UserRecord& u : batch.users) {
    auto r = db.query(kUpsertUser, {of(u.id), of(u.name), of(u.role), of(u.org), of(u.operator_id),
                                    of(u.created_at), of(u.retired_at), of(joined(u.sites))});
    if (!r) return failed(r.error(), "user '" + u.id + "'");
  }
  for (const TokenRecord& t : batch.tokens) {
    auto r = db.query(kUpsertToken, {of(t.id), of(t.user_id), of(t.hash), of(t.label),
                                     of(t.created_at), of(t.revoked_at)});
    if (!r) return failed(r.error(), "token '" + t.id + "' of user '" + t.user_id + "'");
  }
  for (const LeaseRecord& l : batch.leases) {
    auto r = db.query(kUpsertLease,
                      {of(l.id), of(l.org), of(l.pool), of(std::int64_t{l.gpus}), of(l.start),
                       of(l.end), of(l.price_micros), of(l.state), of(l.created_at),
                       of(l.created_by), of(l.terminated_at), of(l.decision_json)});
    if (!r) return failed(r.error(), "lease '" + l.id + "'");
  }
  for (const JobRecord& j : batch.jobs) {
    auto r = db.query(kUpsertJob, {of(j.id), of(j.org), of(j.team), of(j.state), of(j.spec_json),
                                   of(j.placement_json), of(j.decision_json), of(j.submitted_at),
                                   of(j.submitted_by), of(j.updated_at), of(j.run_json)});
    if (!r) return failed(r.error(), "job '" + j.id + "'");
  }
  for (const AgentRecord& a : batch.agents) {
    auto r = db.query(kUpsertAgent, {of(a.id), of(a.name), of(a.state), of(a.body_json),
                                     of(a.registered_at), of(a.updated_at)});
    if (!r) return failed(r.error(), "agent '" + a.id + "'");
  }
  for (const ChangeRequestRecord& c : batch.change_requests) {
    auto r = db.query(kUpsertChangeRequest,
                      {of(c.id), of(c.kind), of(c.entity_id), of(c.org), of(c.operator_id),
                       of(c.state), of(c.body_json), of(c.requested_by), of(c.requested_at),
                       of(c.decided_by), of(c.decided_at), of(c.reason)});
    if (!r) return failed(r.error(), "change request '" + c.id + "'");
  }
  for (const RulesetRecord& rs : batch.rulesets) {
    auto r = db.query(kUpsertRuleset,
                      {of(rs.id), of(rs.name), of(rs.state), of(rs.hash), of(rs.packs_json),
                       of(rs.catalog_fingerprint), of(rs.effective), of(rs.created_at),
                       of(rs.created_by), of(rs.proposed_at), of(rs.proposed_by), of(rs.adopted_at),
                       of(rs.adopted_by), of(rs.retired_at), of(rs.retired_by)});
    if (!r) return failed(r.error(), "rule set '" + rs.id + "'");
  }
  for (const JobEvent& e : batch.job_events) {
    auto r = db.query(kUpsertJobEvent, {of(e.job_id), of(e.seq), of(e.at), of(e.kind),
                                        of(e.message), of(e.data_json)});
    if (!r) {
      return failed(r.error(), "event " + std::to_string(e.seq) + " of job '" + e.job_id + "'");
    }
  }
  std::vector<AuditEvent> stored;
  const std::optional<NewAuditEvent> digest = state_digest(batch, now);
  if (batch.audit.empty() && !digest) return stored;
  // Read under the transaction's write lock: no other writer moves the head.
  auto last = db.query(kLastAudit);
  if (!last) return failed(last.error(), "reading the audit log's last event");
  std::int64_t seq = last->empty() ? 0 : to_int((*last)[0][0]);
  std::string head = last->empty() ? kAuditGenesis : (*last)[0][1];
  stored.reserve(batch.audit.size() + 1);
  std::vector<const NewAuditEvent*> appended;
  for (const NewAuditEvent& n : batch.audit) appended.push_back(&n);
  if (digest) appended.push_back(&*digest);
  for (const NewAuditEvent* next : appended) {
    const NewAuditEvent& n = *next;
    AuditEvent e{++seq,         n.at,         n.actor,         n.action, n.subject,
                 n.before_json, n.after_json, n.decision_json, head,     ""};
    e.hash = audit_hash(e);
    if (e.hash.empty()) return Error(ErrorCode::kInternal, "libsodium could not be initialised");
    auto r = db.query(kInsertAudit, {of(e.seq), of(e.at), of(e.actor), of(e.action), of(e.subject),
                                     of(e.before_json), of(e.after_json), of(e.decision_json),
                                     of(e.prev_hash), of(e.hash)});
    if (!r) {
      return failed(r.error(), "audit event " + std::to_string(e.seq) + " (" + e.action + " " +
                                   e.subject + ")");
    }
    head = e.hash;
    stored.push_back(std::move(e));
  }
  if (key) {
    SignedHead h = key->sign_head(seq, head, now);
    auto r =
        db.query(kInsertHead, {of(h.seq), of(h.hash), of(h.at), of(h.public_key), of(h.signature)});
    if (!r) return failed(r.error(), "signed head at event " + std::to_string(seq));
    signed_head = std::move(h);
  }
  return stored;
}

// Every table, inside the caller's read transaction (one snapshot). Sorted
// here by bytes, not by the database, whose text order depends on its
// collation.
Result<Snapshot> read_snapshot(Connection& db) {
  Snapshot s;
  auto entities =
      db.query("SELECT kind, id, body_json, retired_at_us, updated_at_us FROM entities");
  if (!entities) return failed(entities.error(), "reading entities");
  for (const auto& r : *entities) {
    s.entities.push_back({r[0], r[1], r[2], maybe_instant(r[3]), instant(r[4])});
  }
  std::sort(s.entities.begin(), s.entities.end(), [](const auto& a, const auto& b) {
    return std::tie(a.kind, a.id) < std::tie(b.kind, b.id);
  });
  auto users = db.query(
      "SELECT id, name, role, org, operator_id, created_at_us, retired_at_us, sites FROM users");
  if (!users) return failed(users.error(), "reading users");
  for (const auto& r : *users) {
    s.users.push_back(
        {r[0], r[1], r[2], r[3], r[4], instant(r[5]), maybe_instant(r[6]), split(r[7])});
  }
  std::sort(s.users.begin(), s.users.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  auto tokens =
      db.query("SELECT id, user_id, hash, label, created_at_us, revoked_at_us FROM tokens");
  if (!tokens) return failed(tokens.error(), "reading tokens");
  for (const auto& r : *tokens) {
    s.tokens.push_back({r[0], r[1], r[2], r[3], instant(r[4]), maybe_instant(r[5])});
  }
  std::sort(s.tokens.begin(), s.tokens.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  auto leases = db.query(
      "SELECT id, org, pool, gpus, start_us, end_us, price_micros, state, created_at_us, "
      "created_by, terminated_at_us, decision_json FROM leases");
  if (!leases) return failed(leases.error(), "reading leases");
  for (const auto& r : *leases) {
    s.leases.push_back({r[0], r[1], r[2], static_cast<std::int32_t>(to_int(r[3])), instant(r[4]),
                        instant(r[5]), to_int(r[6]), r[7], instant(r[8]), r[9],
                        maybe_instant(r[10]), r[11]});
  }
  std::sort(s.leases.begin(), s.leases.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  auto jobs = db.query(
      "SELECT id, org, team, state, spec_json, placement_json, decision_json, "
      "submitted_at_us, submitted_by, updated_at_us, run_json FROM jobs");
  if (!jobs) return failed(jobs.error(), "reading jobs");
  for (const auto& r : *jobs) {
    s.jobs.push_back(
        {r[0], r[1], r[2], r[3], r[4], r[5], r[6], instant(r[7]), r[8], instant(r[9]), r[10]});
  }
  auto agents =
      db.query("SELECT id, name, state, body_json, registered_at_us, updated_at_us FROM agents");
  if (!agents) return failed(agents.error(), "reading agents");
  for (const auto& r : *agents) {
    s.agents.push_back({r[0], r[1], r[2], r[3], instant(r[4]), instant(r[5])});
  }
  std::sort(s.agents.begin(), s.agents.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  auto requests = db.query(
      "SELECT id, kind, entity_id, org, operator_id, state, body_json, requested_by, "
      "requested_at_us, decided_by, decided_at_us, reason FROM change_requests");
  if (!requests) return failed(requests.error(), "reading change requests");
  for (const auto& r : *requests) {
    s.change_requests.push_back({r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], instant(r[8]),
                                 r[9], maybe_instant(r[10]), r[11]});
  }
  std::sort(s.change_requests.begin(), s.change_requests.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::sort(s.jobs.begin(), s.jobs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  auto rulesets = db.query(
      "SELECT id, name, state, hash, packs_json, catalog_fingerprint, effective_us, "
      "created_at_us, created_by, proposed_at_us, proposed_by, adopted_at_us, adopted_by, "
      "retired_at_us, retired_by FROM rulesets");
  if (!rulesets) return failed(rulesets.error(), "reading rule sets");
  for (const auto& r : *rulesets) {
    s.rulesets.push_back({r[0], r[1], r[2], r[3], r[4], r[5], maybe_instant(r[6]), instant(r[7]),
                          r[8], maybe_instant(r[9]), r[10], maybe_instant(r[11]), r[12],
                          maybe_instant(r[13]), r[14]});
  }
  std::sort(s.rulesets.begin(), s.rulesets.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  auto events = db.query("SELECT job_id, seq, at_us, kind, message, data_json FROM job_events");
  if (!events) return failed(events.error(), "reading job events");
  for (const auto& r : *events) {
    s.job_events.push_back({r[0], to_int(r[1]), instant(r[2]), r[3], r[4], r[5]});
  }
  std::sort(s.job_events.begin(), s.job_events.end(), [](const auto& a, const auto& b) {
    return std::tie(a.job_id, a.seq) < std::tie(b.job_id, b.seq);
  });
  auto last = db.query(kLastAudit);
  if (!last) return failed(last.error(), "reading the audit log's last event");
  if (!last->empty()) {
    s.audit_seq = to_int((*last)[0][0]);
    s.audit_head = (*last)[0][1];
  }
  return s;
}

class StoreImpl final : public Store {
 public:
  StoreImpl(std::unique_ptr<Connection> db, const StoreUrl& url, const Clock& clock)
      : db_(std::move(db)),
        url_(url),
        clock_(clock),
        where_(describe(url)),
        memory_(url.kind == StoreUrl::Kind::kSqlite && url.target == ":memory:") {}

  ~StoreImpl() override {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  Result<SchemaStatus> status() override {
    std::lock_guard lock(write_mu_);
    return status_locked();
  }

  Result<SchemaStatus> migrate() override {
    std::lock_guard lock(write_mu_);
    for (;;) {
      STRAITS_TRY(db_->begin_exclusive(kMigrationLock));
      // Under the lock: CREATE TABLE IF NOT EXISTS is not safe against a
      // concurrent one on PostgreSQL.
      if (Status created = db_->exec(kCreateMigrations); !created) {
        db_->rollback();
        return created.error();
      }
      // Read again under the lock: another process may have migrated.
      auto before = status_locked();
      if (!before) {
        db_->rollback();
        return std::move(before).error();
      }
      if (before->newer_than_binary()) {
        db_->rollback();
        return newer_error(*before);
      }
      if (before->pending.empty()) {
        db_->rollback();
        return before;
      }
      const int version = before->version + 1;
      const Migration& m = kMigrations[version - 1];
      Status applied = db_->exec(m.sql);
      if (applied) {
        auto recorded = db_->query(
            "INSERT INTO schema_migrations (version, name, applied_at_us) VALUES ($1, $2, $3)",
            {Value::of(std::int64_t{version}), Value::of(std::string(m.name)),
             Value::of(clock_.now().unix_microseconds())});
        if (!recorded) applied = std::move(recorded).error();
      }
      if (applied) applied = db_->commit();
      if (!applied) {
        db_->rollback();
        return Error(applied.error().code(),
                     where_ + ": migration '" + m.name +
                         "' failed, nothing of it applied: " + applied.error().message());
      }
    }
  }

  Status claim_writer() override {
    std::lock_guard lock(write_mu_);
    if (claimed_ || memory_) {  // a private in-memory store has no other writer
      claimed_ = true;
      return ok();
    }
    if (url_.kind == StoreUrl::Kind::kSqlite) {
      const std::string path = url_.target + ".lock";
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        return Error(ErrorCode::kUnavailable, where_ + ": cannot open its lock file " + path +
                                                  ": " + std::generic_category().message(errno));
      }
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) return claimed_elsewhere(path + " is locked");
        return Error(ErrorCode::kUnavailable, where_ + ": cannot lock " + path + ": " +
                                                  std::generic_category().message(err));
      }
      lock_fd_ = fd;
    } else {
      // A session lock lives as long as its connection: one kept for it.
      auto session = internal::open_postgres(url_.target);
      if (!session) return std::move(session).error();
      auto locked = (*session)->query(
          "SELECT pg_try_advisory_lock($1::integer, "
          "('x' || substr(md5(coalesce(current_schema(), '')), 1, 8))::bit(32)::integer)",
          {Value::of(kWriterLockClass)});
      if (!locked) return failed(locked.error(), where_ + ": taking the writer lock");
      if (locked->empty() || (*locked)[0][0] != "t") {
        return claimed_elsewhere("another session holds its writer lock");
      }
      lock_session_ = std::move(session).value();
    }
    claimed_ = true;
    return ok();
  }

  Result<Snapshot> load() override {
    return read([](Connection& db) -> Result<Snapshot> {
      STRAITS_TRY(db.begin_read());
      auto snapshot = read_snapshot(db);
      if (!snapshot) {
        db.rollback();
        return std::move(snapshot).error();
      }
      if (Status done = db.commit(); !done) {
        db.rollback();
        return std::move(done).error();
      }
      return snapshot;
    });
  }

  Result<std::vector<AuditEvent>> commit(const Batch& batch) override {
    if (batch.empty()) return std::vector<AuditEvent>{};
    std::lock_guard lock(write_mu_);
    if (Status begun = db_->begin_exclusive(kMigrationLock); !begun) {
      return failed(begun.error(), where_ + ": commit failed, nothing written: cannot begin");
    }
    std::optional<SignedHead> head;
    auto stored = write_batch(*db_, batch, clock_.now(), key_.get(), head);
    if (stored) {
      if (Status done = db_->commit(); !done) stored = failed(done.error(), "COMMIT");
    }
    if (!stored) {
      db_->rollback();
      return failed(stored.error(), where_ + ": commit failed, nothing written");
    }
    if (head) last_head_ = std::move(head);
    return stored;
  }

  void set_signing_key(std::shared_ptr<const SigningKey> key) override {
    std::lock_guard lock(write_mu_);
    key_ = std::move(key);
  }

  std::string signing_public_key() override {
    std::lock_guard lock(write_mu_);
    return key_ ? key_->public_key() : std::string();
  }

  std::optional<SignedHead> last_signed_head() override {
    std::lock_guard lock(write_mu_);
    return last_head_;
  }

  Result<std::vector<SignedHead>> signed_heads(std::int64_t after_seq, std::size_t limit) override {
    return rows_after<SignedHead>(
        kSelectHeads, after_seq, limit, "signed heads", [](const internal::Row& r) {
          return SignedHead{to_int(r[0]), r[1], instant(r[2]), r[3], r[4]};
        });
  }

  Result<std::vector<AuditEvent>> audit_events(std::int64_t after_seq, std::size_t limit) override {
    return rows_after<AuditEvent>(kSelectAudit, after_seq, limit, "audit events", audit_event);
  }

  // The rows of a query over (seq > after_seq, at most limit), each made a T.
  template <class T, class Convert>
  Result<std::vector<T>> rows_after(const std::string& sql, std::int64_t after_seq,
                                    std::size_t limit, const char* what, Convert convert) {
    const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    const std::int64_t bounded = static_cast<std::int64_t>(std::min(limit, max));
    return read([&](Connection& db) -> Result<std::vector<T>> {
      auto rows = db.query(sql, {of(after_seq), of(bounded)});
      if (!rows) return failed(rows.error(), where_ + ": reading " + what);
      std::vector<T> out;
      out.reserve(rows->size());
      for (const auto& r : *rows) out.push_back(convert(r));
      return out;
    });
  }

  Result<AuditVerification> verify_audit() override {
    auto events = audit_events(0, std::numeric_limits<std::size_t>::max());
    if (!events) return std::move(events).error();
    AuditVerification v = verify_audit_chain(*events);
    auto heads = signed_heads(0, std::numeric_limits<std::size_t>::max());
    if (!heads) return std::move(heads).error();
    std::string key;
    {
      std::lock_guard lock(write_mu_);
      if (key_) key = key_->public_key();
    }
    verify_signed_heads(*events, *heads, key, nullptr, v);
    return v;
  }

 private:
  Result<SchemaStatus> status_locked() {
    SchemaStatus s;
    s.backend = db_->backend();
    s.latest = kLatest;
    auto exists = db_->table_exists("schema_migrations");
    if (!exists) return std::move(exists).error();
    if (*exists) {
      auto rows =
          db_->query("SELECT version, name, applied_at_us FROM schema_migrations ORDER BY version");
      if (!rows) return std::move(rows).error();
      for (const auto& r : *rows) {
        s.applied.push_back(
            {static_cast<int>(to_int(r[0])), r[1], Instant::from_unix_microseconds(to_int(r[2]))});
      }
      if (!s.applied.empty()) s.version = s.applied.back().version;
    }
    for (int v = s.version + 1; v <= kLatest; ++v) s.pending.emplace_back(kMigrations[v - 1].name);
    return s;
  }

  // Runs `f` on a read connection of the pool, opened when none is free and
  // fewer than kReaders are open, else waited for; a private in-memory
  // SQLite store has one connection only, shared with the writes.
  template <typename F>
  auto read(F&& f) -> decltype(f(std::declval<Connection&>())) {
    if (memory_) {
      std::lock_guard lock(write_mu_);
      return f(*db_);
    }
    std::unique_ptr<Connection> db;
    {
      std::unique_lock lock(pool_mu_);
      pool_cv_.wait(lock, [this] { return !idle_.empty() || open_readers_ < kReaders; });
      if (!idle_.empty()) {
        db = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_readers_;
      }
    }
    if (!db) {
      auto opened = url_.kind == StoreUrl::Kind::kSqlite ? internal::open_sqlite(url_.target)
                                                         : internal::open_postgres(url_.target);
      if (!opened) {
        give_back(nullptr);
        return std::move(opened).error();
      }
      db = std::move(opened).value();
    }
    auto result = f(*db);
    // A connection that failed as unreachable is dropped, not reused.
    const bool broken = !result && result.error().code() == ErrorCode::kUnavailable;
    give_back(broken ? nullptr : std::move(db));
    return result;
  }

  void give_back(std::unique_ptr<Connection> db) {
    {
      std::lock_guard lock(pool_mu_);
      if (db) {
        idle_.push_back(std::move(db));
      } else {
        --open_readers_;
      }
    }
    pool_cv_.notify_one();
  }

  Error claimed_elsewhere(const std::string& why) const {
    return Error(ErrorCode::kFailedPrecondition,
                 where_ + " is already claimed by another straits server (" + why +
                     "): only one may write it; stop that one first, or give this one "
                     "another store");
  }

  Error newer_error(const SchemaStatus& s) const {
    return Error(ErrorCode::kFailedPrecondition,
                 where_ + " has schema version " + std::to_string(s.version) +
                     ", newer than this straits knows (" + std::to_string(s.latest) +
                     "): it was migrated by a newer straits; run that one (or newer)");
  }

  // Writes, migrations and the claim, one at a time on db_.
  std::mutex write_mu_;
  std::unique_ptr<Connection> db_;
  const StoreUrl url_;
  const Clock& clock_;
  const std::string where_;
  const bool memory_;
  bool claimed_ = false;
  int lock_fd_ = -1;                          // SQLite: PATH.lock, flocked
  std::unique_ptr<Connection> lock_session_;  // PostgreSQL: holds the advisory lock
  std::shared_ptr<const SigningKey> key_;     // signs each commit's head; may be null
  std::optional<SignedHead> last_head_;       // signed by the last commit
  // Reads.
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_readers_ = 0;
};

}  // namespace

Result<StoreUrl> parse_store_url(std::string_view text) {
  StoreUrl url;
  if (text.starts_with("sqlite:")) {
    url.kind = StoreUrl::Kind::kSqlite;
    url.target = std::string(text.substr(7));
    if (url.target.starts_with("//")) url.target.erase(0, 2);  // sqlite://PATH
    if (url.target.empty()) {
      return Error(ErrorCode::kInvalidArgument, "store 'sqlite:' needs a file: sqlite:PATH");
    }
    return url;
  }
  if (text.starts_with("postgres://") || text.starts_with("postgresql://")) {
    url.kind = StoreUrl::Kind::kPostgres;
    url.target = std::string(text);
    return url;
  }
  return Error(ErrorCode::kInvalidArgument,
               "unknown store '" + std::string(text) +
                   "': use sqlite:PATH (embedded, the default) or postgres://USER@HOST:PORT/DB");
}

std::string describe(const StoreUrl& url) {
  if (url.kind == StoreUrl::Kind::kSqlite) return "sqlite:" + url.target;
  // postgres://user:secret@host -> postgres://user:***@host
  std::string text = url.target;
  const std::size_t scheme = text.find("://");
  const std::size_t at = text.find('@', scheme + 3);
  if (at != std::string::npos) {
    const std::size_t colon = text.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) text.replace(colon + 1, at - colon - 1, "***");
  }
  return text;
}

Result<std::unique_ptr<Store>> Store::open(const StoreUrl& url, const Clock& clock) {
  auto db = url.kind == StoreUrl::Kind::kSqlite ? internal::open_sqlite(url.target)
                                                : internal::open_postgres(url.target);
  if (!db) return std::move(db).error();
  return std::unique_ptr<Store>(new StoreImpl(std::move(db).value(), url, clock));
}

}  // namespace straits::store
