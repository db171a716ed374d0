#include "store/store.h"

#include <charconv>

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
};
constexpr int kLatest = static_cast<int>(std::size(kMigrations));

// Held while migrating on PostgreSQL (pg_advisory_xact_lock): "straits" in ASCII.
constexpr std::int64_t kMigrationLock = 0x73747261697473;

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

class StoreImpl final : public Store {
 public:
  StoreImpl(std::unique_ptr<Connection> db, const Clock& clock, std::string where)
      : db_(std::move(db)), clock_(clock), where_(std::move(where)) {}

  Result<SchemaStatus> status() override {
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

  Result<SchemaStatus> migrate() override {
    for (;;) {
      STRAITS_TRY(db_->begin_exclusive(kMigrationLock));
      // Under the lock: CREATE TABLE IF NOT EXISTS is not safe against a
      // concurrent one on PostgreSQL.
      if (Status created = db_->exec(kCreateMigrations); !created) {
        db_->rollback();
        return created.error();
      }
      // Read again under the lock: another process may have migrated.
      auto before = status();
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

 private:
  Error newer_error(const SchemaStatus& s) const {
    return Error(ErrorCode::kFailedPrecondition,
                 where_ + " has schema version " + std::to_string(s.version) +
                     ", newer than this straits knows (" + std::to_string(s.latest) +
                     "): it was migrated by a newer straits; run that one (or newer)");
  }

  std::unique_ptr<Connection> db_;
  const Clock& clock_;
  std::string where_;
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
  return std::unique_ptr<Store>(new StoreImpl(std::move(db).value(), clock, describe(url)));
}

}  // namespace straits::store
