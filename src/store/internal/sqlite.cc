#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <thread>
#include <unordered_map>

#include "store/internal/connection.h"

namespace straits::store::internal {
namespace {

class Sqlite final : public Connection {
 public:
  explicit Sqlite(sqlite3* db) : db_(db) {}
  ~Sqlite() override {
    for (auto& [text, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  std::string backend() const override { return "sqlite"; }

  Status exec(const std::string& sql) override {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      return Error(code(), "sqlite: " + text);
    }
    return ok();
  }

  Result<std::vector<Row>> query(const std::string& sql,
                                 const std::vector<Value>& params) override {
    auto prepared = statement(sql);
    if (!prepared) return std::move(prepared).error();
    sqlite3_stmt* stmt = prepared->first;
    // Back to its initial state for the next use, whatever happens here.
    struct Done {
      sqlite3_stmt* stmt;
      bool kept;
      ~Done() { release(stmt, kept); }
    } done{stmt, prepared->second};
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int at = static_cast<int>(i) + 1;
      const Value& v = params[i];
      const int rc = v.null   ? sqlite3_bind_null(stmt, at)
                     : v.text ? sqlite3_bind_text64(stmt, at, v.text->data(), v.text->size(),
                                                    SQLITE_TRANSIENT, SQLITE_UTF8)
                              : sqlite3_bind_int64(stmt, at, v.integer);
      if (rc != SQLITE_OK) {
        return Error(ErrorCode::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db_));
      }
    }
    std::vector<Row> rows;
    int rc;
    const int columns = sqlite3_column_count(stmt);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      row.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        const unsigned char* v = sqlite3_column_text(stmt, c);
        row.emplace_back(v ? reinterpret_cast<const char*>(v) : "",
                         v ? static_cast<std::size_t>(sqlite3_column_bytes(stmt, c)) : 0);
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return Error(code(), std::string("sqlite: ") + sqlite3_errmsg(db_));
    return rows;
  }

  Status begin_exclusive(std::int64_t) override { return exec("BEGIN IMMEDIATE"); }
  Status begin_read() override { return exec("BEGIN DEFERRED"); }
  Status commit() override { return exec("COMMIT"); }
  void rollback() override { (void)exec("ROLLBACK"); }

  Result<bool> table_exists(const std::string& name) override {
    auto rows =
        query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {Value::of(name)});
    if (!rows) return std::move(rows).error();
    return !rows->empty();
  }

 private:
  // The statement for `sql` and whether it is kept: prepared once and kept
  // for the next call (SQL texts are constants of the code, values are
  // bound, so the cache stays small; past kCacheSize texts, a statement is
  // prepared for one use and finalized).
  Result<std::pair<sqlite3_stmt*, bool>> statement(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return std::pair{it->second, true};
    // Parameter $N is SQLite's ?N: a '$' before a digit outside quotes. One
    // inside a string literal or a quoted name stays as it is ('' and "" keep
    // the quote state right, as they toggle it twice).
    std::string text = sql;
    char quote = 0;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
      const char c = text[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '$' && std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
        text[i] = '?';
      }
    }
    const bool keep = cache_.size() < kCacheSize;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()) + 1,
                           keep ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr) != SQLITE_OK) {
      return Error(ErrorCode::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
    if (stmt == nullptr) return Error(ErrorCode::kInternal, "sqlite: empty statement: " + sql);
    if (keep) cache_.emplace(sql, stmt);
    return std::pair{stmt, keep};
  }

  // A kept statement is reset for its next use, another one finalized.
  static void release(sqlite3_stmt* stmt, bool kept) {
    if (kept) {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    } else {
      sqlite3_finalize(stmt);
    }
  }

  // Busy and locked databases are worth retrying; the rest is not.
  ErrorCode code() const {
    const int e = sqlite3_errcode(db_);
    return e == SQLITE_BUSY || e == SQLITE_LOCKED ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  }

  static constexpr std::size_t kCacheSize = 256;

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Error(ErrorCode::kUnavailable, "cannot open SQLite store " + path + ": " + message);
  }
  auto connection = std::make_unique<Sqlite>(db);
  sqlite3_busy_timeout(db, 5000);
  // WAL lets readers go on while one writer commits; foreign keys are off
  // by default in SQLite and must be asked for on every connection.
  if (path != ":memory:") {
    // Switching a new file to WAL needs it alone for a moment; SQLite then
    // answers "locked" at once rather than waiting (its busy handler would
    // risk a deadlock), so a process opening it beside another retries.
    auto mode = connection->query("PRAGMA journal_mode = WAL", {});
    for (int attempt = 0; !mode && mode.error().code() == ErrorCode::kUnavailable && attempt < 100;
         ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      mode = connection->query("PRAGMA journal_mode = WAL", {});
    }
    if (!mode) return std::move(mode).error();
    if (mode->empty() || (*mode)[0][0] != "wal") {
      return Error(ErrorCode::kUnavailable,
                   "SQLite store " + path + ": cannot switch to WAL journal mode");
    }
  }
  // synchronous FULL (SQLite's default, said here so that no build default
  // changes it): an acknowledged commit survives a power cut too.
  STRAITS_TRY(connection->exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"));
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace straits::store::internal
