#include <libpq-fe.h>

#include "store/internal/connection.h"

namespace straits::store::internal {
namespace {

// libpq's message without its trailing newline.
std::string message_of(PGconn* db) {
  std::string text = PQerrorMessage(db);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class Postgres final : public Connection {
 public:
  explicit Postgres(PGconn* db) : db_(db) {}
  ~Postgres() override { PQfinish(db_); }

  std::string backend() const override { return "postgres"; }

  Status exec(const std::string& sql) override {
    PGresult* result = PQexec(db_, sql.c_str());
    const auto status = PQresultStatus(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return Error(code(), "postgres: " + message_of(db_));
    }
    return ok();
  }

  Result<std::vector<Row>> query(const std::string& sql,
                                 const std::vector<Value>& params) override {
    std::vector<std::string> texts;
    texts.reserve(params.size());
    for (const Value& v : params) texts.push_back(v.text ? *v.text : std::to_string(v.integer));
    std::vector<const char*> values;
    values.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      values.push_back(params[i].null ? nullptr : texts[i].c_str());
    }
    PGresult* result = PQexecParams(db_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      PQclear(result);
      return Error(code(), "postgres: " + message_of(db_));
    }
    std::vector<Row> rows;
    for (int r = 0; r < PQntuples(result); ++r) {
      Row row;
      for (int c = 0; c < PQnfields(result); ++c) row.emplace_back(PQgetvalue(result, r, c));
      rows.push_back(std::move(row));
    }
    PQclear(result);
    return rows;
  }

  Status begin_exclusive(std::int64_t lock_key) override {
    STRAITS_TRY(exec("BEGIN"));
    // Held until the transaction ends: one migrator at a time.
    auto locked = query("SELECT pg_advisory_xact_lock($1::bigint)", {Value::of(lock_key)});
    if (!locked) {
      rollback();
      return std::move(locked).error();
    }
    return ok();
  }
  Status begin_read() override { return exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); }
  Status commit() override { return exec("COMMIT"); }
  void rollback() override { (void)exec("ROLLBACK"); }

  Result<bool> table_exists(const std::string& name) override {
    auto rows = query("SELECT to_regclass($1) IS NOT NULL", {Value::of(name)});
    if (!rows) return std::move(rows).error();
    return !rows->empty() && (*rows)[0][0] == "t";
  }

 private:
  ErrorCode code() const {
    return PQstatus(db_) == CONNECTION_OK ? ErrorCode::kInternal : ErrorCode::kUnavailable;
  }

  PGconn* db_;
};

}  // namespace

Result<std::unique_ptr<Connection>> open_postgres(const std::string& conninfo) {
  PGconn* db = PQconnectdb(conninfo.c_str());
  if (PQstatus(db) != CONNECTION_OK) {
    std::string message = message_of(db);
    PQfinish(db);
    return Error(ErrorCode::kUnavailable, "cannot connect to the PostgreSQL store: " + message);
  }
  auto connection = std::make_unique<Postgres>(db);
  // Notices (e.g. "relation already exists, skipping") are not errors.
  STRAITS_TRY(connection->exec("SET client_min_messages = warning"));
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace straits::store::internal
