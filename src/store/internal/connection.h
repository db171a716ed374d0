// One connection to a database, whatever the backend: statements with bound
// parameters only (no value is ever spliced into SQL text), transactions,
// and the few reads the schema code needs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/store.h"

namespace straits::store::internal {

// A bound value: text, a 64-bit integer, or NULL.
struct Value {
  std::optional<std::string> text;
  std::int64_t integer = 0;
  bool null = false;
  static Value of(std::string s) { return {std::move(s), 0, false}; }
  static Value of(std::int64_t i) { return {std::nullopt, i, false}; }
  static Value none() { return {std::nullopt, 0, true}; }
};

using Row = std::vector<std::string>;  // every column as text ("" for NULL)

class Connection {
 public:
  virtual ~Connection() = default;
  virtual std::string backend() const = 0;
  // Runs SQL without parameters (schema statements), possibly several.
  virtual Status exec(const std::string& sql) = 0;
  // Runs one statement whose parameters are written $1, $2, ... as in
  // PostgreSQL (SQLite reads them as ?1, ?2, ...); returns its rows. SQLite
  // keeps each statement prepared for the next call with the same text.
  virtual Result<std::vector<Row>> query(const std::string& sql,
                                         const std::vector<Value>& params = {}) = 0;
  // A write transaction that excludes other writers until commit: SQLite's
  // BEGIN IMMEDIATE; PostgreSQL's BEGIN with an advisory lock on `lock_key`.
  virtual Status begin_exclusive(std::int64_t lock_key) = 0;
  // A read-only transaction that sees one snapshot until commit() or
  // rollback(): SQLite's deferred BEGIN (in WAL); PostgreSQL's REPEATABLE READ.
  virtual Status begin_read() = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;
  virtual Result<bool> table_exists(const std::string& name) = 0;
};

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path);
Result<std::unique_ptr<Connection>> open_postgres(const std::string& conninfo);

}  // namespace straits::store::internal
