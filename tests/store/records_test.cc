// What the control plane keeps in the store (records.h), the same suite on
// both backends: records through commit and load, upserts, the audit chain
// (numbering, hashes, what verify finds when the tables are tampered with),
// a failing batch writing nothing, the writer claim, concurrent commits.
#include "store/records.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/backend.h"
#include "store/store.h"

namespace straits::store {
namespace {

using testing_util::raw_exec;

Instant at(std::int64_t seconds) {
  return Instant::from_unix_seconds(1'764'374'400 + seconds);
}

NewAuditEvent audit(std::int64_t seconds, const std::string& action, const std::string& subject,
                    const std::string& actor = "u-admin") {
  return {at(seconds), actor, action, subject, "", "{\"n\":" + std::to_string(seconds) + "}", ""};
}

UserRecord user(const std::string& id, const std::string& name) {
  return {id, name, "engineer", "org-a", "", at(0), std::nullopt};
}

JobRecord job(const std::string& id, const std::string& state = "queued") {
  return {id, "org-a", "team-1", state, "{\"gpus\":8}", "", "", at(10), "u-1", at(11), ""};
}

bool has_problem(const AuditVerification& v, const std::string& text) {
  for (const auto& p : v.problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string problems(const AuditVerification& v) {
  std::string all;
  for (const auto& p : v.problems) all += p + "\n";
  return all;
}

class RecordsTest : public testing_util::BackendTest {
 protected:
  std::unique_ptr<Store> migrated() {
    auto store = open();
    if (!store) return nullptr;
    auto m = store->migrate();
    EXPECT_TRUE(m) << m.error().to_string();
    return store;
  }

  // Five audit events in two commits.
  std::vector<AuditEvent> five_events(Store& store) {
    Batch first;
    for (int i = 1; i <= 3; ++i)
      first.audit.push_back(audit(i, "user.create", "user/u-" + std::to_string(i)));
    auto a = store.commit(first);
    EXPECT_TRUE(a) << a.error().to_string();
    Batch second;
    for (int i = 4; i <= 5; ++i)
      second.audit.push_back(audit(i, "lease.create", "lease/l-" + std::to_string(i)));
    auto b = store.commit(second);
    EXPECT_TRUE(b) << b.error().to_string();
    std::vector<AuditEvent> all = a ? *a : std::vector<AuditEvent>{};
    if (b) all.insert(all.end(), b->begin(), b->end());
    return all;
  }
};

TEST_P(RecordsTest, EveryRecordKindRoundTripsThroughCommitAndLoad) {
  auto store = migrated();
  ASSERT_TRUE(store);
  const std::string tricky = "Zoë's \"quoted\" $1 ; DROP TABLE users; -- 東京 🚀\n\ttab";
  Batch batch;
  // Given out of order: load returns them sorted.
  batch.entities = {
      {"site", "s-2", "{\"name\":\"" + tricky + "\"}", at(50), at(51)},
      {"pool", "p-1", "{}", std::nullopt, at(52)},
      {"operator", "o-1", "{\"x\":\"$1\"}", std::nullopt, at(53)},
  };
  batch.users = {
      {"u-2", tricky, "tenant-admin", "org-a", "", at(1), at(2)},
      {"u-1", "alice", "operator-admin", "", "op-1", at(3), std::nullopt},
      // Names are unique per org or operator (migration 0004), not across them.
      {"u-3", "alice", "agent", "", "op-2", at(4), std::nullopt, {"s-1", "s-2"}},
  };
  batch.change_requests = {
      {"cr-2", "site", "s-2", "", "op-1", "rejected", "{\"patch\":{\"country\":\"US\"}}", "u-1",
       at(40), "u-9", at(41), tricky},
      {"cr-1", "dataset", "d-1", "org-a", "", "pending", "{}", "u-2", at(42), "", std::nullopt, ""},
  };
  batch.tokens = {
      {"t-2", "u-1", "ab12", "laptop", at(4), at(5)},
      {"t-1", "u-2", "cd34", tricky, at(6), std::nullopt},
  };
  batch.leases = {
      {"l-2", "org-a", "p-1", 16, at(100), at(200), 2'500'000, "terminated", at(7), "u-1", at(150),
       "{\"allowed\":true}"},
      {"l-1", "org-b", "p-1", 8, at(-100), at(300), -1, "active", at(8), "u-2", std::nullopt, ""},
  };
  batch.jobs = {job("j-2", "running"), job("j-1")};
  batch.jobs[0].placement_json = "{\"pool\":\"p-1\"}";
  batch.jobs[0].decision_json = tricky;
  batch.jobs[0].run_json = "{\"attempt\":2,\"note\":\"" + std::string("Zoë") + "\"}";
  batch.agents = {
      {"ag-2", "cn-a", "lost", "{\"sites\":[\"s-2\"]}", at(30), at(31)},
      {"ag-1", tricky, "active", "{}", at(32), at(33)},
  };
  batch.job_events = {
      {"j-2", 2, at(20), "placed", "on p-1", "{\"pool\":\"p-1\"}"},
      {"j-1", 1, at(12), "submitted", tricky, ""},
      {"j-2", 1, at(13), "submitted", "", ""},
  };
  batch.audit = {audit(1, "user.create", "user/u-1"), audit(2, "job.submit", "job/j-1", "u-2")};
  batch.audit[1].before_json = tricky;
  batch.audit[1].decision_json = "{\"rule\":\"r-1\"}";
  auto stored = store->commit(batch);
  ASSERT_TRUE(stored) << stored.error().to_string();
  // The two events given, then the digest of the leases and jobs written.
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[2].action, kStateDigestAction);

  Snapshot expected;
  expected.entities = {batch.entities[2], batch.entities[1], batch.entities[0]};
  expected.users = {batch.users[1], batch.users[0], batch.users[2]};
  expected.change_requests = {batch.change_requests[1], batch.change_requests[0]};
  expected.tokens = {batch.tokens[1], batch.tokens[0]};
  expected.leases = {batch.leases[1], batch.leases[0]};
  expected.jobs = {batch.jobs[1], batch.jobs[0]};
  expected.job_events = {batch.job_events[1], batch.job_events[2], batch.job_events[0]};
  expected.agents = {batch.agents[1], batch.agents[0]};
  auto loaded = store->load();
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->entities, expected.entities);
  EXPECT_EQ(loaded->users, expected.users);
  EXPECT_EQ(loaded->tokens, expected.tokens);
  EXPECT_EQ(loaded->leases, expected.leases);
  EXPECT_EQ(loaded->jobs, expected.jobs);
  EXPECT_EQ(loaded->job_events, expected.job_events);
  EXPECT_EQ(loaded->agents, expected.agents);
  EXPECT_EQ(loaded->change_requests, expected.change_requests);
  EXPECT_EQ(loaded->audit_seq, 3);
  EXPECT_EQ(loaded->audit_head, (*stored)[2].hash);

  // The audit events as stored, and as read back.
  const AuditEvent& e = (*stored)[1];
  EXPECT_EQ(e.seq, 2);
  EXPECT_EQ(e.actor, "u-2");
  EXPECT_EQ(e.before_json, tricky);
  EXPECT_EQ(e.after_json, "{\"n\":2}");
  EXPECT_EQ(e.decision_json, "{\"rule\":\"r-1\"}");
  EXPECT_EQ(e.at, at(2));
  auto read = store->audit_events(0, 10);
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(*read, *stored);

  // Another process opening the store reads the same.
  auto other = open();
  ASSERT_TRUE(other);
  auto again = other->load();
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->users, expected.users);
  EXPECT_EQ(again->job_events, expected.job_events);
  EXPECT_EQ(again->audit_head, loaded->audit_head);
}

TEST_P(RecordsTest, AnEmptyStoreLoadsEmptyAndAnEmptyBatchWritesNothing) {
  auto store = migrated();
  ASSERT_TRUE(store);
  auto stored = store->commit(Batch{});
  ASSERT_TRUE(stored) << stored.error().to_string();
  EXPECT_TRUE(stored->empty());
  auto loaded = store->load();
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_TRUE(loaded->entities.empty() && loaded->users.empty() && loaded->jobs.empty());
  EXPECT_EQ(loaded->audit_seq, 0);
  EXPECT_EQ(loaded->audit_head, kAuditGenesis);
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->ok());
  EXPECT_EQ(v->events, 0);
  EXPECT_EQ(v->head, kAuditGenesis);
}

TEST_P(RecordsTest, UpsertsReplaceEveryColumnAndClearOptionalTimes) {
  auto store = migrated();
  ASSERT_TRUE(store);
  Batch first;
  first.users = {user("u-1", "alice")};
  first.jobs = {job("j-1")};
  first.job_events = {{"j-1", 1, at(1), "submitted", "", ""}};
  first.entities = {{"org", "o-1", "{\"v\":1}", std::nullopt, at(1)}};
  first.leases = {
      {"l-1", "org-a", "p-1", 8, at(0), at(10), 5, "active", at(0), "u-1", std::nullopt, ""}};
  ASSERT_TRUE(store->commit(first));

  Batch second;
  UserRecord renamed{"u-1", "alice2", "auditor", "", "op-9", at(5), at(6)};
  second.users = {renamed};
  JobRecord placed = job("j-1", "assigned");
  placed.placement_json = "{\"pool\":\"p-1\"}";
  placed.updated_at = at(99);
  second.jobs = {placed};
  second.job_events = {{"j-1", 1, at(2), "submitted", "again", "{}"}};
  second.entities = {{"org", "o-1", "{\"v\":2}", at(7), at(7)}};
  LeaseRecord ended{"l-1", "org-a",      "p-1", 8,     at(0), at(10),
                    5,     "terminated", at(0), "u-1", at(8), "{}"};
  second.leases = {ended};
  ASSERT_TRUE(store->commit(second));
  auto loaded = store->load();
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->users, std::vector<UserRecord>{renamed});
  EXPECT_EQ(loaded->jobs, std::vector<JobRecord>{placed});
  ASSERT_EQ(loaded->job_events.size(), 1u);
  EXPECT_EQ(loaded->job_events[0].message, "again");
  EXPECT_EQ(loaded->entities[0].retired_at, at(7));
  EXPECT_EQ(loaded->leases, std::vector<LeaseRecord>{ended});

  // Back to unset: the optional time is NULL again.
  Batch third;
  renamed.retired_at.reset();
  third.users = {renamed};
  ASSERT_TRUE(store->commit(third));
  EXPECT_EQ(store->load()->users, std::vector<UserRecord>{renamed});
}

TEST_P(RecordsTest, TheAuditChainIsNumberedAcrossCommitsAndReopening) {
  std::vector<AuditEvent> all;
  {
    auto store = migrated();
    ASSERT_TRUE(store);
    all = five_events(*store);
    ASSERT_EQ(all.size(), 5u);
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, static_cast<std::int64_t>(i) + 1);
    EXPECT_EQ(all[i].prev_hash, i == 0 ? std::string(kAuditGenesis) : all[i - 1].hash);
    EXPECT_EQ(all[i].hash, audit_hash(all[i]));
    EXPECT_EQ(all[i].hash.size(), 64u);
  }
  auto store = open();  // a new process: the chain goes on from the stored head
  ASSERT_TRUE(store);
  Batch more;
  more.audit = {audit(6, "job.cancel", "job/j-1")};
  auto sixth = store->commit(more);
  ASSERT_TRUE(sixth) << sixth.error().to_string();
  ASSERT_EQ(sixth->size(), 1u);
  EXPECT_EQ((*sixth)[0].seq, 6);
  EXPECT_EQ((*sixth)[0].prev_hash, all[4].hash);
  all.push_back((*sixth)[0]);

  auto read = store->audit_events(0, 100);
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(*read, all);
  auto page = store->audit_events(2, 2);
  ASSERT_TRUE(page) << page.error().to_string();
  EXPECT_EQ(*page, (std::vector<AuditEvent>{all[2], all[3]}));
  EXPECT_TRUE(store->audit_events(6, 10)->empty());
  auto loaded = store->load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->audit_seq, 6);
  EXPECT_EQ(loaded->audit_head, all[5].hash);
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->ok()) << problems(*v);
  EXPECT_EQ(v->events, 6);
  EXPECT_EQ(v->head, all[5].hash);
}

TEST_P(RecordsTest, VerifyFindsAnAlteredField) {
  auto store = migrated();
  ASSERT_TRUE(store);
  five_events(*store);
  raw_exec(url_, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2");
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_FALSE(v->ok());
  EXPECT_EQ(v->problems,
            std::vector<std::string>{"event 2: hash does not match its contents (altered)"});
}

TEST_P(RecordsTest, VerifyFindsARemovedMiddleEvent) {
  auto store = migrated();
  ASSERT_TRUE(store);
  five_events(*store);
  raw_exec(url_, "DELETE FROM audit_events WHERE seq = 3");
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_EQ(v->events, 4);
  EXPECT_EQ(v->problems, std::vector<std::string>{"event 3 missing: 2 is followed by 4 (removed)"});
}

TEST_P(RecordsTest, VerifyFindsASwappedPair) {
  auto store = migrated();
  ASSERT_TRUE(store);
  five_events(*store);
  // Events 3 and 4 change places (their rows keep everything but seq).
  raw_exec(url_, "UPDATE audit_events SET seq = -3 WHERE seq = 3");
  raw_exec(url_, "UPDATE audit_events SET seq = 3 WHERE seq = 4");
  raw_exec(url_, "UPDATE audit_events SET seq = 4 WHERE seq = -3");
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(has_problem(*v, "event 3: hash does not match its contents (altered)"))
      << problems(*v);
  EXPECT_TRUE(has_problem(*v, "event 4: hash does not match its contents (altered)"))
      << problems(*v);
  EXPECT_TRUE(has_problem(*v, "event 3: prev_hash is not event 2's hash")) << problems(*v);
  EXPECT_TRUE(has_problem(*v, "event 5: prev_hash is not event 4's hash")) << problems(*v);
}

// What a client checks on events fetched over the API.
TEST_P(RecordsTest, VerifyAChainGivenAsAList) {
  auto store = migrated();
  ASSERT_TRUE(store);
  const std::vector<AuditEvent> chain = five_events(*store);
  ASSERT_EQ(chain.size(), 5u);
  auto intact = verify_audit_chain(chain);
  EXPECT_TRUE(intact.ok()) << problems(intact);
  EXPECT_EQ(intact.events, 5);
  EXPECT_EQ(intact.head, chain[4].hash);

  // Reordered in the list.
  auto reordered = verify_audit_chain({chain[0], chain[1], chain[3], chain[2], chain[4]});
  EXPECT_TRUE(has_problem(reordered, "event 3 missing: 2 is followed by 4 (removed)"))
      << problems(reordered);
  EXPECT_TRUE(has_problem(reordered, "event 3: comes after event 4 (inserted or reordered)"))
      << problems(reordered);

  // Altered with its hash recomputed: the next event's link breaks.
  auto forged = chain;
  forged[1].actor = "mallory";
  forged[1].hash = audit_hash(forged[1]);
  auto f = verify_audit_chain(forged);
  EXPECT_EQ(f.problems, std::vector<std::string>{
                            "event 3: prev_hash is not event 2's hash (an event before it was "
                            "altered, removed or inserted)"});

  // An event inserted (duplicated) in the middle, and the first one removed.
  auto inserted = verify_audit_chain({chain[0], chain[1], chain[1], chain[2]});
  EXPECT_TRUE(has_problem(inserted, "event 2: comes after event 2 (inserted or reordered)"))
      << problems(inserted);
  auto headless = verify_audit_chain({chain[1], chain[2]});
  EXPECT_EQ(headless.problems,
            std::vector<std::string>{"event 1 missing: the chain starts at 2 (removed)"});

  // The last event removed: the chain alone still verifies; only the head
  // and count, compared with what an auditor recorded earlier, show it.
  auto truncated = verify_audit_chain({chain[0], chain[1], chain[2], chain[3]});
  EXPECT_TRUE(truncated.ok());
  EXPECT_NE(truncated.head, intact.head);
  EXPECT_EQ(truncated.events, 4);

  auto empty = verify_audit_chain({});
  EXPECT_TRUE(empty.ok());
  EXPECT_EQ(empty.head, kAuditGenesis);
}

TEST_P(RecordsTest, AFailingBatchWritesNothingAndTheNextOneChainsOn) {
  auto store = migrated();
  ASSERT_TRUE(store);
  Batch good;
  good.users = {user("u-1", "alice")};
  good.audit = {audit(1, "user.create", "user/u-1")};
  auto first = store->commit(good);
  ASSERT_TRUE(first) << first.error().to_string();
  auto before = store->load();
  ASSERT_TRUE(before);

  // Everything before the token would be written, and the token's user does
  // not exist (foreign key).
  Batch bad;
  bad.users = {user("u-2", "bob")};
  bad.tokens = {{"tk-bad", "u-ghost", "ffff", "cli", at(1), std::nullopt}};
  bad.jobs = {job("j-1")};
  bad.audit = {audit(2, "user.create", "user/u-2"), audit(3, "token.create", "token/tk-bad")};
  auto refused = store->commit(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("commit failed, nothing written"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("token 'tk-bad' of user 'u-ghost'"), std::string::npos)
      << refused.error().message();

  // A job event of a job that does not exist, and a token hash taken.
  Batch orphan;
  orphan.job_events = {{"j-ghost", 1, at(1), "submitted", "", ""}};
  orphan.audit = {audit(4, "job.submit", "job/j-ghost")};
  EXPECT_FALSE(store->commit(orphan));
  Batch seeded;
  seeded.tokens = {{"tk-1", "u-1", "same-hash", "cli", at(1), std::nullopt}};
  ASSERT_TRUE(store->commit(seeded));
  before = store->load();
  ASSERT_TRUE(before);
  Batch taken;
  taken.users = {user("u-3", "carol")};
  taken.tokens = {{"tk-3", "u-3", "same-hash", "cli", at(1), std::nullopt}};
  auto hash_taken = store->commit(taken);
  ASSERT_FALSE(hash_taken);
  EXPECT_NE(hash_taken.error().message().find("token 'tk-3'"), std::string::npos);

  auto after = store->load();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->users, before->users);
  EXPECT_EQ(after->tokens, before->tokens);
  EXPECT_TRUE(after->jobs.empty());
  EXPECT_TRUE(after->job_events.empty());
  EXPECT_EQ(after->audit_seq, 1);
  EXPECT_EQ(after->audit_head, (*first)[0].hash);

  bad.tokens[0].user_id = "u-2";
  auto fixed = store->commit(bad);
  ASSERT_TRUE(fixed) << fixed.error().to_string();
  ASSERT_EQ(fixed->size(), 3u);  // and the digest of its job
  EXPECT_EQ((*fixed)[0].seq, 2);
  EXPECT_EQ((*fixed)[0].prev_hash, (*first)[0].hash);
  EXPECT_EQ((*fixed)[1].seq, 3);
  auto v = store->verify_audit();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok()) << problems(*v);
  EXPECT_EQ(v->events, 4);
}

TEST_P(RecordsTest, OnlyOneStoreClaimsTheWriterAtATime) {
  auto first = migrated();
  auto second = open();
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->claim_writer());
  EXPECT_TRUE(first->claim_writer());  // again: it has it
  auto refused = second->claim_writer();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("is already claimed by another straits server"),
            std::string::npos)
      << refused.error().message();
  first.reset();  // the server stops: its claim goes with it
  auto claimed = second->claim_writer();
  EXPECT_TRUE(claimed) << claimed.error().to_string();
}

TEST_P(RecordsTest, ConcurrentCommitsFromFourThreadsMakeOneGaplessChain) {
  auto store = migrated();
  ASSERT_TRUE(store);
  constexpr int kThreads = 4;
  constexpr int kCommits = 25;
  std::atomic<int> failures{0};
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCommits; ++i) {
        const std::string id = "j-" + std::to_string(t) + "-" + std::to_string(i);
        Batch b;
        b.jobs = {job(id)};
        b.job_events = {{id, 1, at(i), "submitted", "", ""}};
        b.audit = {audit(i, "job.submit", "job/" + id), audit(i, "job.place", "job/" + id)};
        auto r = store->commit(b);
        // Two events and the digest of the job: one run of the chain.
        if (!r || r->size() != 3 || (*r)[2].seq != (*r)[0].seq + 2) ++failures;
      }
    });
  }
  // Reads go on beside the writes.
  std::thread reader([&] {
    while (writing) {
      if (!store->load() || !store->audit_events(0, 10)) ++failures;
    }
  });
  for (auto& t : threads) t.join();
  writing = false;
  reader.join();
  EXPECT_EQ(failures, 0);
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->ok()) << problems(*v);
  EXPECT_EQ(v->events, 3 * kThreads * kCommits);
  auto loaded = store->load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->jobs.size(), static_cast<std::size_t>(kThreads * kCommits));
  EXPECT_EQ(loaded->audit_seq, 3 * kThreads * kCommits);
}

// The scheduling loop commits batches of this size: they must not hold it up.
TEST_P(RecordsTest, ABatchOfAHundredJobsEventsAndAuditEventsCommitsFast) {
  auto store = migrated();
  ASSERT_TRUE(store);
  constexpr int kRounds = 5;
  std::chrono::steady_clock::duration total{};
  for (int round = 0; round < kRounds; ++round) {
    Batch b;
    for (int i = 0; i < 100; ++i) {
      const std::string id = "j-" + std::to_string(i);
      b.jobs.push_back(job(id, round == 0 ? "queued" : "running"));
      b.job_events.push_back({id, round + 1, at(round), "placed", "on p-1", "{\"pool\":\"p-1\"}"});
      b.audit.push_back(audit(round, "job.place", "job/" + id, "system"));
    }
    const auto start = std::chrono::steady_clock::now();
    auto r = store->commit(b);
    total += std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_EQ(r->size(), 101u);  // and the digest of the 100 jobs
  }
  const auto mean_ms =
      std::chrono::duration_cast<std::chrono::microseconds>(total).count() / 1000.0 / kRounds;
  std::printf("commit of 100 jobs + 100 job events + 100 audit events: %.1f ms\n", mean_ms);
  // Generous for a loaded machine and a sanitizer build; typical: a few ms.
  EXPECT_LT(mean_ms, 1000.0);
  EXPECT_EQ(store->load()->job_events.size(), 100u * kRounds);
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsTest,
                         testing::Values(StoreUrl::Kind::kSqlite, StoreUrl::Kind::kPostgres),
                         testing_util::backend_name);

TEST(AuditHashTest, IsTheHexSha256OfTheLengthPrefixedFields) {
  AuditEvent e;
  e.seq = 1;
  e.at = Instant::from_unix_microseconds(1'764'374'400'000'000);
  e.actor = "alice";
  e.action = "lease.create";
  e.subject = "lease/l-1";
  e.after_json = "{\"gpus\":8}";
  e.prev_hash = kAuditGenesis;
  // sha256 of "64:000...0" "1:1" "16:1764374400000000" "5:alice" ... "0:".
  EXPECT_EQ(audit_hash(e), "01f14b85aebcfb2abfbd70311652b2bccacb02a1844fc475ec13e9ec8b7dfbf8");
  // Moving bytes from one field to the next changes the hash.
  AuditEvent moved = e;
  moved.actor = "alic";
  moved.action = "elease.create";
  EXPECT_NE(audit_hash(moved), audit_hash(e));
  AuditEvent empty_moved = e;
  empty_moved.before_json = "{\"gpus\":8}";
  empty_moved.after_json = "";
  EXPECT_NE(audit_hash(empty_moved), audit_hash(e));
}

TEST(InMemoryStoreTest, WorksWithOneConnection) {
  ManualClock clock(Instant::from_date(2026, 11, 29));
  auto store = Store::open({StoreUrl::Kind::kSqlite, ":memory:"}, clock);
  ASSERT_TRUE(store) << store.error().to_string();
  ASSERT_TRUE((*store)->migrate());
  ASSERT_TRUE((*store)->claim_writer());
  Batch b;
  b.users = {user("u-1", "alice")};
  b.audit = {audit(1, "user.create", "user/u-1")};
  ASSERT_TRUE((*store)->commit(b));
  auto loaded = (*store)->load();
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->users.size(), 1u);
  EXPECT_TRUE((*store)->verify_audit()->ok());
}

}  // namespace
}  // namespace straits::store
