// Attacks on history and on secrets (issue 15: "History can be rewritten",
// "Secrets in logs", "/metrics needs no token"), each tried against the real
// `straits` binary: `straits serve` writes a history over a temporary SQLite
// store (the example world of `make run`, seeded), then the test plays the
// database administrator on the SQLite file, and `straits audit` must find
// what was done. Each test fails on the code before issue 15's fix: the
// chain was a plain SHA-256 chain anyone with the file could recompute, the
// tail could be cut, the tables were not bound to it, seeded tokens were
// logged, token files were written with the umask and chmod'ed after.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "policy/temp_dir.h"
#include "store/records.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

// Runs `straits ARGS...` to its end; stdout and stderr kept.
Outcome straits(const std::vector<std::string>& args, const fs::path& dir) {
  const fs::path out = dir / "cmd.out", err = dir / "cmd.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) {
      ::_exit(126);
    }
    std::vector<char*> argv{const_cast<char*>("straits")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(STRAITS_BINARY, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

// `straits serve ARGS` until it has printed its first lines (the admin
// token last at a first start), then `while_up(url, token)`, then SIGTERM:
// what it printed, its stderr.
Outcome serve_once(
    const std::vector<std::string>& args, const fs::path& dir,
    const std::function<void(const std::string&, const std::string&)>& while_up = nullptr) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const fs::path err = dir / "serve.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    if (!std::freopen(err.c_str(), "w", stderr)) ::_exit(126);
    std::vector<std::string> all = {
        "serve", "--listen", "127.0.0.1:0", "--schedule-interval", "0s", "--threads", "2"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv{const_cast<char*>("straits")};
    for (const auto& a : all) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(STRAITS_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::FILE* in = ::fdopen(fds[0], "r");
  Outcome o;
  char buffer[4096];
  bool stopped = false;
  while (std::fgets(buffer, sizeof buffer, in) != nullptr) {
    o.out += buffer;
    // The last of the first lines: the token's export, or the URL's when
    // the store is not new.
    if (!stopped && (has(buffer, "export STRAITS_TOKEN=") || has(buffer, "STRAITS_TOKEN=$("))) {
      if (while_up) {
        const std::string url = o.out.substr(o.out.find("http://"));
        std::string token = buffer;
        token = token.substr(token.find("STRAITS_TOKEN=") + 14);
        while (!token.empty() && token.back() == '\n') token.pop_back();
        while_up(url.substr(0, url.find_first_of(" \n")), token);
      }
      ::kill(pid, SIGTERM);
      stopped = true;
    }
  }
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.err = read_text(err);
  return o;
}

// The value after `label` on its line of `text`.
std::string after(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  if (at == std::string::npos) return "";
  const auto start = at + label.size();
  return text.substr(start, text.find_first_of(" \n", start) - start);
}

// SQL on the store's file, as its database administrator would.
void sql(const fs::path& db_path, const std::string& text) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(db, text.c_str(), nullptr, nullptr, &message), SQLITE_OK)
      << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

std::vector<straits::store::AuditEvent> read_events(const fs::path& db_path) {
  std::vector<straits::store::AuditEvent> events;
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return events;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT seq, at_us, actor, action, subject, before_json, after_json, "
                     "decision_json, prev_hash, hash FROM audit_events ORDER BY seq",
                     -1, &stmt, nullptr);
  auto text = [&](int c) {
    const unsigned char* v = sqlite3_column_text(stmt, c);
    return v ? std::string(reinterpret_cast<const char*>(v),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt, c)))
             : std::string();
  };
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    straits::store::AuditEvent e;
    e.seq = sqlite3_column_int64(stmt, 0);
    e.at = straits::Instant::from_unix_microseconds(sqlite3_column_int64(stmt, 1));
    e.actor = text(2);
    e.action = text(3);
    e.subject = text(4);
    e.before_json = text(5);
    e.after_json = text(6);
    e.decision_json = text(7);
    e.prev_hash = text(8);
    e.hash = text(9);
    events.push_back(std::move(e));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return events;
}

std::string sql_text(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A history written by `straits serve`: the example world seeded (users,
// leases, jobs: one commit each, so one signed head each), with a witness.
class AuditAttack : public testing::Test {
 protected:
  void SetUp() override {
    Outcome served =
        serve_once({"--store", "sqlite:" + db().string(), "--seed", seed_file(), "--token-file",
                    (dir() / "admin.token").string(), "--witness", witness().string()},
                   dir());
    ASSERT_EQ(served.exit_code, 0) << served.out << served.err;
    public_key_ = after(served.out, "audit log signed by key ");
    ASSERT_EQ(public_key_.size(), 64u) << served.out;
    events_ = read_events(db());
    ASSERT_GT(events_.size(), 20u);
    // Intact, as written.
    Outcome intact = verify({"--witness", witness().string()});
    ASSERT_EQ(intact.exit_code, 0) << intact.out << intact.err;
    ASSERT_TRUE(has(intact.out, "audit log intact")) << intact.out;
  }

  const fs::path& dir() const { return dir_.path(); }
  fs::path db() const { return dir() / "straits.db"; }
  fs::path witness() const { return dir() / "witness.jsonl"; }
  static std::string seed_file() {
    return (fs::path(STRAITS_SOURCE_DIR) / "examples/serve/seed.json").string();
  }

  Outcome verify(std::vector<std::string> more) {
    std::vector<std::string> args = {
        "audit", "verify", "--store", "sqlite:" + db().string(), "--public-key", public_key_};
    args.insert(args.end(), more.begin(), more.end());
    return straits(args, dir());
  }

  // Rewrites event `from`'s actor and re-hashes the chain from it on, as
  // anyone who can write the file and read records.h can.
  void rehash_from(std::int64_t from) {
    std::string script = "BEGIN;";
    std::string prev;
    for (auto e : events_) {
      if (e.seq < from) {
        prev = e.hash;
        continue;
      }
      if (e.seq == from) e.actor = "u-mallory";
      e.prev_hash = prev;
      e.hash = straits::store::audit_hash(e);
      prev = e.hash;
      script += "UPDATE audit_events SET actor = " + sql_text(e.actor) +
                ", prev_hash = " + sql_text(e.prev_hash) + ", hash = " + sql_text(e.hash) +
                " WHERE seq = " + std::to_string(e.seq) + ";";
    }
    sql(db(), script + "COMMIT;");
  }

  straits::testing_util::TempDir dir_{"security-audit"};
  std::string public_key_;
  std::vector<straits::store::AuditEvent> events_;
};

TEST_F(AuditAttack, AChainReHashedFromAnEventOnIsFoundAtThatEvent) {
  // The first event of a commit in the middle of the history, and the head
  // that signed its commit: heads are per commit, so verify names the
  // commit's events from the first on.
  std::vector<std::int64_t> heads;
  {
    sqlite3* handle = nullptr;
    sqlite3_open(db().c_str(), &handle);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(handle, "SELECT seq FROM audit_heads ORDER BY seq", -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) heads.push_back(sqlite3_column_int64(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(handle);
  }
  ASSERT_GT(heads.size(), 4u);
  const std::size_t k = heads.size() / 2;
  const std::int64_t from = heads[k - 1] + 1, head = heads[k];
  rehash_from(from);
  // The chain alone is consistent again: that was the attack.
  Outcome v = verify({});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_TRUE(has(v.out, "audit log NOT intact")) << v.out;
  EXPECT_TRUE(has(v.out, "event " + std::to_string(head) + ": its hash differs")) << v.out;
  const std::string where = from == head ? "from event " + std::to_string(from) + " on"
                                         : "from an event in " + std::to_string(from) + ".." +
                                               std::to_string(head) + " on";
  EXPECT_TRUE(has(v.out, where)) << v.out;
}

TEST_F(AuditAttack, ACutTailIsFoundWithTheWitnessEvenWithItsSignedHeadsRemoved) {
  const std::int64_t last = events_.back().seq, keep = last - 5;
  // Events only: the stored heads beyond the chain show it.
  sql(db(), "DELETE FROM audit_events WHERE seq > " + std::to_string(keep));
  Outcome heads_left = verify({});
  EXPECT_EQ(heads_left.exit_code, 1) << heads_left.out;
  EXPECT_TRUE(has(heads_left.out, "beyond the chain's last event " + std::to_string(keep)))
      << heads_left.out;
  // Their heads too: the store alone now looks whole; the witness does not.
  sql(db(), "DELETE FROM audit_heads WHERE seq > " + std::to_string(keep));
  Outcome witnessed = verify({"--witness", witness().string()});
  EXPECT_EQ(witnessed.exit_code, 1) << witnessed.out;
  EXPECT_TRUE(has(witnessed.out, "witness head")) << witnessed.out;
  EXPECT_TRUE(has(witnessed.out, "events " + std::to_string(keep + 1) + ".." +
                                     std::to_string(last) + " were removed"))
      << witnessed.out;
}

TEST_F(AuditAttack, ALeaseEditedInTheTableIsNamedByVerifyState) {
  Outcome clean = verify({"--state"});
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  sql(db(), "UPDATE leases SET gpus = 5000 WHERE id = (SELECT MIN(id) FROM leases)");
  const std::string lease = [&] {
    sqlite3* handle = nullptr;
    sqlite3_open(db().c_str(), &handle);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(handle, "SELECT id FROM leases WHERE gpus = 5000", -1, &stmt, nullptr);
    std::string id;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      id = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(handle);
    return id;
  }();
  ASSERT_FALSE(lease.empty());
  // The chain itself is untouched: only --state sees it.
  EXPECT_EQ(verify({}).exit_code, 0);
  Outcome v = verify({"--state"});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_TRUE(has(v.out, "lease " + lease + ": differs from what the audit chain recorded"))
      << v.out;
  // A job inserted around the server: never recorded.
  sql(db(),
      "INSERT INTO jobs (id, org, team, state, spec_json, placement_json, decision_json, "
      "submitted_at_us, submitted_by, updated_at_us, run_json) VALUES ('j-99999999', "
      "'hanshan-sg', 't', 'queued', '{}', '', '', 0, 'u-00000001', 0, '')");
  v = verify({"--state"});
  EXPECT_TRUE(has(v.out, "job j-99999999: the audit chain never recorded it")) << v.out;
}

// Not an attack: a store written before migration 0005 (no signed heads, rows
// no digest covers) is bound to the chain once, at its first start after.
TEST_F(AuditAttack, AStoreFromBeforeSignedHeadsIsBoundToTheChainAtItsFirstStart) {
  sql(db(),
      "DROP TABLE audit_heads; DELETE FROM schema_migrations WHERE name LIKE '0005 %';"
      // Nor the migrations after it (0006: rule sets).
      "DROP TABLE rulesets; DELETE FROM schema_migrations WHERE version > 5;"
      "INSERT INTO jobs (id, org, team, state, spec_json, placement_json, decision_json, "
      "submitted_at_us, submitted_by, updated_at_us, run_json) VALUES ('j-00000900', "
      "'hanshan-sg', 't', 'queued', '{}', '', '', 0, 'u-00000001', 0, '')");
  Outcome unbound = verify({"--state"});
  EXPECT_EQ(unbound.exit_code, 1) << unbound.out << unbound.err;
  Outcome served = serve_once(
      {"--store", "sqlite:" + db().string(), "--token-file", (dir() / "admin.token").string()},
      dir());
  ASSERT_EQ(served.exit_code, 0) << served.out << served.err;
  Outcome bound = verify({"--state"});
  EXPECT_EQ(bound.exit_code, 0) << bound.out << bound.err;
  // The baseline and its digest, then the rule set made from --rules (0006).
  const auto events = read_events(db());
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[events.size() - 4].action, "store.baseline");
  EXPECT_EQ(events[events.size() - 3].action, "state.digest");
  EXPECT_EQ(events[events.size() - 2].action, "ruleset.create");
  EXPECT_EQ(events.back().action, "ruleset.adopt");
}

TEST_F(AuditAttack, AnExportedBundleVerifiesOfflineAndATamperedOneIsRefused) {
  const fs::path bundle = dir() / "bundle.json";
  Outcome exported = straits({"audit", "export", "--store", "sqlite:" + db().string(), "--from",
                              "2000-01-01", "--to", "2100-01-01", "--out", bundle.string()},
                             dir());
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;
  // Offline: the store is gone.
  fs::remove(db());
  Outcome good =
      straits({"audit", "verify-bundle", bundle.string(), "--public-key", public_key_}, dir());
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_TRUE(has(good.out, "bundle intact")) << good.out;

  json b = json::parse(read_text(bundle));
  ASSERT_GT(b["events"].size(), 3u);
  b["events"][2]["actor"] = "u-mallory";
  std::ofstream(dir() / "tampered.json") << b.dump();
  Outcome bad = straits(
      {"audit", "verify-bundle", (dir() / "tampered.json").string(), "--public-key", public_key_},
      dir());
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_TRUE(has(bad.out, "event " + b["events"][2]["seq"].dump() + ": hash does not match"))
      << bad.out;
  // Re-hashed to match: the signatures do not.
  auto& events = b["events"];
  for (std::size_t i = 2; i < events.size(); ++i) {
    straits::store::AuditEvent e;
    e.seq = events[i]["seq"];
    e.at = straits::Instant::from_unix_microseconds(events[i]["at_us"]);
    e.actor = events[i]["actor"];
    e.action = events[i]["action"];
    e.subject = events[i]["subject"];
    e.before_json = events[i]["before_json"];
    e.after_json = events[i]["after_json"];
    e.decision_json = events[i]["decision_json"];
    e.prev_hash = events[i - 1]["hash"];
    events[i]["prev_hash"] = e.prev_hash;
    events[i]["hash"] = straits::store::audit_hash(e);
  }
  std::ofstream(dir() / "rehashed.json") << b.dump();
  Outcome rehashed = straits(
      {"audit", "verify-bundle", (dir() / "rehashed.json").string(), "--public-key", public_key_},
      dir());
  EXPECT_EQ(rehashed.exit_code, 1) << rehashed.out;
  EXPECT_TRUE(has(rehashed.out, "its hash differs")) << rehashed.out;
  // Signed by another key than the operator's.
  Outcome other = straits(
      {"audit", "verify-bundle", bundle.string(), "--public-key", std::string(64, 'a')}, dir());
  EXPECT_EQ(other.exit_code, 1) << other.out;
}

// Secrets: the seeded users' tokens never reach a log; token files are 0600
// from their creation and never written over.
class Secrets : public testing::Test {
 protected:
  const fs::path& dir() const { return dir_.path(); }
  straits::testing_util::TempDir dir_{"security-secrets"};
};

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

TEST_F(Secrets, NoTokenInTheLogsOrOnStderrAfterSeedingAndTokenFilesAre0600) {
  const fs::path log = dir() / "requests.log", token = dir() / "admin.token",
                 seed_tokens = dir() / "seed-tokens.json";
  Outcome served =
      serve_once({"--store", "sqlite:" + (dir() / "s.db").string(), "--seed",
                  (fs::path(STRAITS_SOURCE_DIR) / "examples/serve/seed.json").string(),
                  "--token-file", token.string(), "--log-file", log.string(), "--verbose"},
                 dir());
  ASSERT_EQ(served.exit_code, 0) << served.out << served.err;
  const std::string logged = read_text(log);
  EXPECT_TRUE(has(logged, "seed user")) << logged;  // the seed was logged, without secrets
  EXPECT_FALSE(has(logged, "st_")) << logged;
  EXPECT_FALSE(has(served.err, "st_")) << served.err;
  // The console shows the admin token once, last; no other token.
  const std::string admin = after(served.out, "export STRAITS_TOKEN=");
  ASSERT_TRUE(admin.starts_with("st_")) << served.out;
  EXPECT_EQ(served.out.find("st_"), served.out.rfind("st_")) << served.out;
  EXPECT_EQ(read_text(token), admin + "\n");
  EXPECT_EQ(mode_of(token), 0600u);
  // The seeded users' tokens are in their own file, 0600.
  ASSERT_TRUE(fs::exists(seed_tokens)) << served.out;
  EXPECT_EQ(mode_of(seed_tokens), 0600u);
  json seeded = json::parse(read_text(seed_tokens));
  ASSERT_FALSE(seeded["users"].empty());
  EXPECT_TRUE(seeded["users"][0]["token"].get<std::string>().starts_with("st_"));
  // The signing key, beside the store, 0600 too.
  EXPECT_EQ(mode_of(dir() / "s.db.signing-key"), 0600u);
}

TEST_F(Secrets, AnExistingTokenFileIsRefusedNotOverwritten) {
  const fs::path token = dir() / "admin.token";
  std::ofstream(token) << "someone else's\n";
  fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
  Outcome served = serve_once(
      {"--store", "sqlite:" + (dir() / "s.db").string(), "--token-file", token.string()}, dir());
  EXPECT_EQ(served.exit_code, 1) << served.out << served.err;
  EXPECT_TRUE(has(served.err, "refusing to overwrite")) << served.err;
  EXPECT_EQ(read_text(token), "someone else's\n");
}

TEST_F(Secrets, ASigningKeyOthersMayReadIsRefused) {
  const fs::path key = dir() / "signing.key";
  std::ofstream(key) << std::string(64, '1') << "\n";
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  Outcome served = serve_once(
      {"--store", "sqlite:" + (dir() / "s.db").string(), "--signing-key", key.string()}, dir());
  EXPECT_EQ(served.exit_code, 1) << served.out << served.err;
  EXPECT_TRUE(has(served.err, "may be read or written by others")) << served.err;
}

// /metrics shows leased and used GPUs per pool: not to anyone who can reach
// the port, nor to a tenant.
TEST_F(Secrets, MetricsNeedATokenOfARoleThatMaySeeTheFleet) {
  auto get = [](const std::string& url, const std::string& token) {
    httplib::Client client(url);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto r = client.Get("/metrics", headers);
    return r ? r->status : -1;
  };
  int anonymous = 0, admin = 0;
  Outcome served = serve_once({"--store", "sqlite:" + (dir() / "s.db").string()}, dir(),
                              [&](const std::string& url, const std::string& token) {
                                anonymous = get(url, "");
                                admin = get(url, token);
                              });
  ASSERT_EQ(served.exit_code, 0) << served.out << served.err;
  EXPECT_EQ(anonymous, 401);
  EXPECT_EQ(admin, 200);
  // Opted out: served to anyone.
  int open = 0;
  served =
      serve_once({"--store", "sqlite:" + (dir() / "s2.db").string(), "--metrics-public"}, dir(),
                 [&](const std::string& url, const std::string&) { open = get(url, ""); });
  EXPECT_EQ(open, 200) << served.out << served.err;
}

}  // namespace
