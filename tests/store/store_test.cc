// The store's schema and migrations, the same suite on both backends: an
// SQLite file in a temporary folder, and a real PostgreSQL server that ctest
// starts for these tests (scripts/pg-test-server.sh; fixture `postgres`).
#include "store/store.h"

#include "store/internal/connection.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "core/clock.h"
#include "policy/temp_dir.h"
#include "store/backend.h"

namespace straits::store {
namespace {

using straits::testing_util::TempDir;

using testing_util::raw_exec;

class StoreTest : public testing_util::BackendTest {};

TEST_P(StoreTest, AnEmptyStoreHasEveryMigrationPending) {
  auto store = open();
  ASSERT_TRUE(store);
  auto s = store->status();
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->version, 0);
  EXPECT_GE(s->latest, 1);
  EXPECT_EQ(s->pending.size(), static_cast<std::size_t>(s->latest));
  EXPECT_TRUE(s->applied.empty());
  EXPECT_EQ(s->backend, GetParam() == StoreUrl::Kind::kSqlite ? "sqlite" : "postgres");
}

TEST_P(StoreTest, MigrateAppliesEachMigrationOnceAndRecordsWhen) {
  auto store = open();
  ASSERT_TRUE(store);
  auto first = store->migrate();
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->version, first->latest);
  EXPECT_TRUE(first->pending.empty());
  ASSERT_EQ(first->applied.size(), static_cast<std::size_t>(first->latest));
  EXPECT_EQ(first->applied[0].version, 1);
  EXPECT_EQ(first->applied[0].applied_at, clock_.now());
  // The tables exist: an audit event can be written and read back.
  raw_exec(url_,
           "INSERT INTO audit_events (seq, at_us, actor, action, subject, prev_hash, hash) "
           "VALUES (1, 0, 'admin', 'create', 'org/x', '', 'h1')");
  clock_.advance(Duration::hours(1));
  auto again = store->migrate();  // nothing pending: nothing changes
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->applied[0].applied_at, first->applied[0].applied_at);
  // A second process sees the same.
  auto other = open();
  ASSERT_TRUE(other);
  auto seen = other->status();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->version, first->version);
}

TEST_P(StoreTest, AStoreNewerThanTheBinaryIsRefusedAndLeftAlone) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->migrate());
  const int next = store->status()->latest + 1;
  raw_exec(url_, "INSERT INTO schema_migrations (version, name, applied_at_us) VALUES (" +
                     std::to_string(next) + ", '9999 from the future', 0)");
  auto status = store->status();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->newer_than_binary());
  auto refused = store->migrate();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("schema version " + std::to_string(next) +
                                           ", newer than this straits knows"),
            std::string::npos)
      << refused.error().message();
  EXPECT_EQ(store->status()->version, next);
}

TEST_P(StoreTest, ConcurrentMigratorsApplyEachMigrationExactlyOnce) {
  std::vector<std::thread> threads;
  std::vector<Result<SchemaStatus>> results(4, Error(ErrorCode::kInternal, "not run"));
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([this, i, &results] {
      auto store = Store::open(url_, clock_);
      results[i] = store ? (*store)->migrate() : Result<SchemaStatus>(store.error());
    });
  }
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->version, r->latest);
    EXPECT_EQ(r->applied.size(), static_cast<std::size_t>(r->latest));
  }
}

// Values travel as parameters, never as SQL text: a '$1' inside a literal
// stays text on both backends.
TEST_P(StoreTest, ParametersAreBoundAndDollarSignsInLiteralsAreLeftAlone) {
  auto db = GetParam() == StoreUrl::Kind::kSqlite ? internal::open_sqlite(url_.target)
                                                  : internal::open_postgres(url_.target);
  ASSERT_TRUE(db) << db.error().to_string();
  auto rows = (*db)->query("SELECT '$1 USD', $1, $2",
                           {internal::Value::of(std::string("x'); DROP TABLE t; --")),
                            internal::Value::of(std::int64_t{42})});
  ASSERT_TRUE(rows) << rows.error().to_string();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0], (internal::Row{"$1 USD", "x'); DROP TABLE t; --", "42"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         testing::Values(StoreUrl::Kind::kSqlite, StoreUrl::Kind::kPostgres),
                         testing_util::backend_name);

TEST(StoreUrlTest, ParsesBothBackendsAndRefusesOthersClearly) {
  auto sqlite = parse_store_url("sqlite:data/straits.db");
  ASSERT_TRUE(sqlite);
  EXPECT_EQ(sqlite->kind, StoreUrl::Kind::kSqlite);
  EXPECT_EQ(sqlite->target, "data/straits.db");
  EXPECT_EQ(parse_store_url("sqlite:///var/lib/straits.db")->target, "/var/lib/straits.db");
  auto pg = parse_store_url("postgres://straits:secret@db.internal:5432/straits");
  ASSERT_TRUE(pg);
  EXPECT_EQ(pg->kind, StoreUrl::Kind::kPostgres);
  EXPECT_EQ(describe(*pg), "postgres://straits:***@db.internal:5432/straits");
  EXPECT_FALSE(parse_store_url("sqlite:"));
  auto mysql = parse_store_url("mysql://x");
  ASSERT_FALSE(mysql);
  EXPECT_NE(mysql.error().message().find("use sqlite:PATH"), std::string::npos);
}

TEST(StoreOpenTest, SqliteUsesWalAndForeignKeysAndUnreachableServersAreUnavailable) {
  TempDir dir("store");
  ManualClock clock(Instant::from_date(2026, 11, 29));
  StoreUrl url{StoreUrl::Kind::kSqlite, (dir.path() / "s.db").string()};
  auto store = Store::open(url, clock);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->migrate());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(url.target.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  auto folder = Store::open({StoreUrl::Kind::kSqlite, dir.path().string()}, clock);
  ASSERT_FALSE(folder);
  EXPECT_EQ(folder.error().code(), ErrorCode::kUnavailable);
  auto nobody =
      Store::open({StoreUrl::Kind::kPostgres, "host=127.0.0.1 port=1 connect_timeout=2"}, clock);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(nobody.error().message().find("cannot connect to the PostgreSQL store"),
            std::string::npos);
}

}  // namespace
}  // namespace straits::store
