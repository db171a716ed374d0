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
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/time.h"
#include "store/records.h"

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
  // Audit events with seq > after_seq, in order, at most `limit`.
  virtual Result<std::vector<AuditEvent>> audit_events(std::int64_t after_seq,
                                                       std::size_t limit) = 0;
  // Reads the whole chain and recomputes every hash: finds altered,
  // removed, inserted or reordered events. The last events removed leave a
  // shorter chain that still verifies: compare the returned head and count
  // with a head recorded earlier (the chain may only have grown from it).
  virtual Result<AuditVerification> verify_audit() = 0;
};

// Checks a chain of events (in the order given, from seq 1) as
// verify_audit() does: for a client that fetched them over the API.
AuditVerification verify_audit_chain(const std::vector<AuditEvent>& events);

}  // namespace straits::store
