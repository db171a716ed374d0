// What the store's suites share: a fixture parameterized over both backends
// (an SQLite file in a temporary folder; a schema of its own on the
// PostgreSQL server that ctest starts, fixture `postgres`,
// scripts/pg-test-server.sh) and raw SQL run around the store.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/clock.h"
#include "policy/temp_dir.h"
#include "store/store.h"

namespace straits::store::testing_util {

// The conninfo the fixture wrote, or "" when the server is not there.
inline std::string postgres_conninfo() {
  std::ifstream in(std::filesystem::path(STRAITS_TEST_POSTGRES_DIR) / "conninfo");
  std::string line;
  std::getline(in, line);
  return line;
}

// Runs SQL on the backend directly, around the store: what a user or an
// older or newer binary would do.
inline void raw_exec(const StoreUrl& url, const std::string& sql) {
  if (url.kind == StoreUrl::Kind::kSqlite) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(url.target.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << (message ? message : "");
    sqlite3_free(message);
    sqlite3_close(db);
  } else {
    PGconn* db = PQconnectdb(url.target.c_str());
    ASSERT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
    PGresult* r = PQexec(db, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << PQerrorMessage(db);
    PQclear(r);
    PQfinish(db);
  }
}

inline std::string backend_name(const testing::TestParamInfo<StoreUrl::Kind>& p) {
  return p.param == StoreUrl::Kind::kSqlite ? "sqlite" : "postgres";
}

class BackendTest : public testing::TestWithParam<StoreUrl::Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == StoreUrl::Kind::kSqlite) {
      url_ = {StoreUrl::Kind::kSqlite, (dir_.path() / "straits.db").string()};
      return;
    }
    const std::string conninfo = postgres_conninfo();
    ASSERT_FALSE(conninfo.empty())
        << "no PostgreSQL test server: ctest starts one (fixture 'postgres', "
           "scripts/pg-test-server.sh); PostgreSQL must be installed (make test installs it)";
    // Each test gets an empty schema of its own.
    schema_ = "t_" + std::to_string(::getpid()) + "_" +
              testing::UnitTest::GetInstance()->current_test_info()->name();
    schema_.resize(std::min<std::size_t>(schema_.size(), 60));  // PostgreSQL names: 63 bytes
    for (char& c : schema_) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    url_ = {StoreUrl::Kind::kPostgres, conninfo};
    raw_exec(url_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
    url_.target += " options=-csearch_path=" + schema_;
  }
  void TearDown() override {
    if (!schema_.empty()) raw_exec(url_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  std::unique_ptr<Store> open() {
    auto store = Store::open(url_, clock_);
    EXPECT_TRUE(store) << store.error().to_string();
    return store ? std::move(store).value() : nullptr;
  }

  straits::testing_util::TempDir dir_{"store"};
  ManualClock clock_{Instant::from_date(2026, 11, 29)};
  StoreUrl url_;
  std::string schema_;
};

}  // namespace straits::store::testing_util
