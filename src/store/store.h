// The durable store (design: "store"): one interface over an embedded SQLite
// file (the default) and a PostgreSQL server (production). This first part
// holds the schema and its versioned migrations, and what the control plane
// keeps (records.h): entities, users, tokens, leases, jobs, the audit log.
//
// A store's schema version is the number of migrations applied, recorded in
// the table `schema_migrations` with each one's name and when it ran. A
// binary applies the migrations it knows and refuses a store whose schema is
// newer than it: an older binary must not write into tables it does not know.
//
// Example:
//   auto url = parse_store_url("sqlite:straits.db");
//   auto store = Store::open(*url, clock);
//   auto status = store->migrate();   // applies what is pending, in one transaction each
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/time.h"
#include "store/records.h"
#include "store/signing.h"

namespace straits::store {

// Where a store lives: `sqlite:PATH` (PATH may be relative; `sqlite::memory:`
// for a private in-memory store) or a PostgreSQL URL `postgres://` /
// `postgresql://` (passed to libpq as it is).
struct StoreUrl {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string target;  // the file path, or the libpq connection string
};

Result<StoreUrl> parse_store_url(std::string_view text);
// "sqlite:PATH" or the PostgreSQL URL with any password replaced by "***".
std::string describe(const StoreUrl& url);

struct AppliedMigration {
  int version = 0;
  std::string name;
  Instant applied_at;
};

struct SchemaStatus {
  std::string backend;  // "sqlite" or "postgres"
  int version = 0;      // migrations applied
  int latest = 0;       // migrations this binary knows
  std::vector<AppliedMigration> applied;
  std::vector<std::string> pending;  // names of the migrations not applied yet, in order
  bool newer_than_binary() const { return version > latest; }
};

class Store {
 public:
  // Opens (and for SQLite creates) the store. SQLite: WAL journal, foreign
  // keys on, a busy timeout. Nothing is migrated: call migrate().
  static Result<std::unique_ptr<Store>> open(const StoreUrl& url, const Clock& clock);
  virtual ~Store() = default;

  virtual Result<SchemaStatus> status() = 0;
  // Applies the pending migrations in order, each in one transaction with
  // its row in schema_migrations. A store newer than the binary is refused
  // (FailedPrecondition) and left as it is.
  virtual Result<SchemaStatus> migrate() = 0;

  // The control plane's use (REQUIRES: migrated). Thread-safe: calls are
  // serialised on one connection for writes and served by a small pool of
  // connections for reads (PostgreSQL) or the same file (SQLite).

  // Takes the store for this process alone, for as long as it runs: a second
  // server on the same store is refused (FailedPrecondition) rather than
  // letting two in-memory states diverge. SQLite: an exclusive lock on
  // PATH.lock; PostgreSQL: a session advisory lock.
  virtual Status claim_writer() = 0;
  // Everything, as at the start of a server.
  virtual Result<Snapshot> load() = 0;
  // Writes the batch and appends its audit events, chained after the last
  // one, in one transaction: when it returns ok, all of it is durable
  // (SQLite synchronous=FULL; PostgreSQL commit); on error, none of it is.
  // Returns the audit events as stored (numbered, hashed).
  virtual Result<std::vector<AuditEvent>> commit(const Batch& batch) = 0;
  // The key that signs the chain's head at each commit (issue 15): from
  // then on, every commit that appends events also stores the signed head
  // of its last event in audit_heads, in the same transaction. Without
  // one, no head is signed. Call before the first commit.
  virtual void set_signing_key(std::shared_ptr<const SigningKey> key) = 0;
  // Hex of the public key set above ("" without one).
  virtual std::string signing_public_key() = 0;
  // The head signed by this process's last successful commit (nullopt
  // before one, or without a key): what the server appends to its witness
  // file. REQUIRES: read by the thread that commits.
  virtual std::optional<SignedHead> last_signed_head() = 0;
  // Signed heads with seq > after_seq, in order, at most `limit`.
  virtual Result<std::vector<SignedHead>> signed_heads(std::int64_t after_seq,
                                                       std::size_t limit) = 0;
  // Audit events with seq > after_seq, in order, at most `limit`.
  virtual Result<std::vector<AuditEvent>> audit_events(std::int64_t after_seq,
                                                       std::size_t limit) = 0;
  // Reads the whole chain and recomputes every hash: finds altered,
  // removed, inserted or reordered events; then checks the stored signed
  // heads (verify_signed_heads, against the key each names, and the key
  // set here if any). The last events removed together with their heads
  // leave a chain that verifies: a witness file shows it
  // (verify_signed_heads with the witness).
  virtual Result<AuditVerification> verify_audit() = 0;
};

// Checks a chain of events (in the order given, from seq 1) as
// verify_audit() does: for a client that fetched them over the API.
AuditVerification verify_audit_chain(const std::vector<AuditEvent>& events);

// Checks signed heads against a chain (events from seq 1, in order) and adds
// what it finds to v.problems:
// - a head whose signature does not verify, or signed by another key than
//   `public_key` (hex; "" accepts any key, but all heads must name one);
// - a head whose hash is not its event's: the chain was re-hashed or an
//   event altered at or before it (named by the first such head and the
//   last head that still matches);
// - a head beyond the chain's last event: its tail was removed;
// - events after the last signed head: appended without the key, or their
//   heads removed (not reported when no head is given at all).
// `witness`, when given, holds heads kept outside the database: each is
// checked the same way, so a tail removed with its stored heads is found.
void verify_signed_heads(const std::vector<AuditEvent>& events,
                         const std::vector<SignedHead>& heads, const std::string& public_key,
                         const std::vector<SignedHead>* witness, AuditVerification& v);

// Compares the leases and jobs as stored with the last digest the chain
// recorded for each (kStateDigestAction events, records.h): one problem per
// row that differs ("lease l-00000001: differs from what the audit chain
// recorded (event 12)"), that the chain never recorded, or that the chain
// recorded and the table no longer holds. Empty: the tables are as the
// chain says. `events` must be verified first (verify_audit_chain and the
// signed heads): the digests are only as good as the chain that holds them.
std::vector<std::string> verify_state(const std::vector<AuditEvent>& events,
                                      const std::vector<LeaseRecord>& leases,
                                      const std::vector<JobRecord>& jobs);

}  // namespace straits::store
