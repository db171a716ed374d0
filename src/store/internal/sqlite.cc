#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <thread>

#include "store/internal/connection.h"

namespace straits::store::internal {
namespace {

class Sqlite final : public Connection {
 public:
  explicit Sqlite(sqlite3* db) : db_(db) {}
  ~Sqlite() override { sqlite3_close_v2(db_); }

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
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, text.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return Error(ErrorCode::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int at = static_cast<int>(i) + 1;
      const int rc = params[i].text ? sqlite3_bind_text(stmt, at, params[i].text->c_str(), -1,
                                                        SQLITE_TRANSIENT)
                                    : sqlite3_bind_int64(stmt, at, params[i].integer);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return Error(ErrorCode::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db_));
      }
    }
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* v = sqlite3_column_text(stmt, c);
        row.emplace_back(v ? reinterpret_cast<const char*>(v) : "");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return Error(code(), std::string("sqlite: ") + sqlite3_errmsg(db_));
    return rows;
  }

  Status begin_exclusive(std::int64_t) override { return exec("BEGIN IMMEDIATE"); }
  Status commit() override { return exec("COMMIT"); }
  void rollback() override { (void)exec("ROLLBACK"); }

  Result<bool> table_exists(const std::string& name) override {
    auto rows =
        query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {Value::of(name)});
    if (!rows) return std::move(rows).error();
    return !rows->empty();
  }

 private:
  // Busy and locked databases are worth retrying; the rest is not.
  ErrorCode code() const {
    const int e = sqlite3_errcode(db_);
    return e == SQLITE_BUSY || e == SQLITE_LOCKED ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  }

  sqlite3* db_;
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
  // synchronous stays FULL: an acknowledged commit survives a power cut too.
  STRAITS_TRY(connection->exec("PRAGMA foreign_keys = ON"));
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace straits::store::internal
