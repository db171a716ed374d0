// The audit chain bound to a key and to the tables (issue 15), on both
// backends: a head signed at each commit in the same transaction, what
// verify finds when the chain is re-hashed or its tail cut (with and without
// a witness), and the leases and jobs compared with the digests the chain
// recorded for them.
#include <gtest/gtest.h>

#include "store/backend.h"
#include "store/records.h"
#include "store/signing.h"
#include "store/store.h"

namespace straits::store {
namespace {

using testing_util::raw_exec;

Instant at(std::int64_t seconds) {
  return Instant::from_unix_seconds(1'764'374'400 + seconds);
}

NewAuditEvent event(std::int64_t n) {
  return {at(n), "u-admin", "user.create", "user/u-" + std::to_string(n), "", "{}", ""};
}

LeaseRecord lease(const std::string& id, std::int32_t gpus) {
  return {id,        "org-a",  "p-1", gpus,  at(0),        at(3600),
          2'000'000, "active", at(0), "u-1", std::nullopt, "{\"decision\":\"allow\"}"};
}

JobRecord job(const std::string& id) {
  return {id, "org-a", "team-1", "queued", "{\"gpus\":8}", "", "", at(10), "u-1", at(11), ""};
}

std::string all(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& p : problems) text += p + "\n";
  return text;
}

bool has(const std::vector<std::string>& problems, const std::string& part) {
  return all(problems).find(part) != std::string::npos;
}

class AuditSigningTest : public testing_util::BackendTest {
 protected:
  // A migrated store whose commits `key_` signs, with `commits` commits of
  // one event each (events and heads 1..commits).
  std::unique_ptr<Store> signed_store(int commits) {
    auto store = open();
    if (!store) return nullptr;
    EXPECT_TRUE(store->migrate());
    store->set_signing_key(key_);
    for (int i = 1; i <= commits; ++i) {
      Batch b;
      b.audit = {event(i)};
      auto r = store->commit(b);
      EXPECT_TRUE(r) << r.error().to_string();
      if (r) committed_.push_back(r->back());
    }
    return store;
  }

  std::shared_ptr<const SigningKey> key_ =
      std::make_shared<const SigningKey>(SigningKey::generate().value());
  std::vector<AuditEvent> committed_;
};

TEST_P(AuditSigningTest, EachCommitStoresItsHeadSignedByTheKey) {
  auto store = signed_store(3);
  ASSERT_TRUE(store);
  auto heads = store->signed_heads(0, 100);
  ASSERT_TRUE(heads) << heads.error().to_string();
  ASSERT_EQ(heads->size(), 3u);
  for (std::size_t i = 0; i < heads->size(); ++i) {
    const SignedHead& h = (*heads)[i];
    EXPECT_EQ(h.seq, committed_[i].seq);
    EXPECT_EQ(h.hash, committed_[i].hash);
    EXPECT_EQ(h.public_key, key_->public_key());
    EXPECT_TRUE(head_signature_valid(h));
  }
  EXPECT_EQ(store->last_signed_head(), heads->back());
  EXPECT_EQ(store->signing_public_key(), key_->public_key());
  // A signature is of its own head only.
  SignedHead moved = heads->front();
  moved.seq = 2;
  EXPECT_FALSE(head_signature_valid(moved));
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->ok()) << all(v->problems);
  EXPECT_EQ(v->signed_heads, 3);
}

TEST_P(AuditSigningTest, AChainReHashedFromAnEventOnFailsAtThatEventsHead) {
  auto store = signed_store(5);
  ASSERT_TRUE(store);
  // Event 3 altered and 3..5 re-hashed: the chain alone is consistent.
  std::vector<AuditEvent> events = *store->audit_events(0, 100);
  events[2].actor = "mallory";
  for (std::size_t i = 2; i < events.size(); ++i) {
    events[i].prev_hash = events[i - 1].hash;
    events[i].hash = audit_hash(events[i]);
    raw_exec(url_, "UPDATE audit_events SET actor = '" + events[i].actor + "', prev_hash = '" +
                       events[i].prev_hash + "', hash = '" + events[i].hash +
                       "' WHERE seq = " + std::to_string(events[i].seq));
  }
  EXPECT_TRUE(verify_audit_chain(*store->audit_events(0, 100)).ok());
  auto v = store->verify_audit();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_EQ(v->problems,
            std::vector<std::string>{
                "event 3: its hash differs from the signed head for it: the chain was re-hashed "
                "or altered from event 3 on (2 later heads differ too)"});
  // A forged head (signed by another key) is named as such.
  auto other = SigningKey::generate().value();
  SignedHead forged = other.sign_head(5, events[4].hash, at(9));
  AuditVerification with_forged = verify_audit_chain(events);
  verify_signed_heads(events, {forged}, key_->public_key(), nullptr, with_forged);
  EXPECT_TRUE(has(with_forged.problems, "signed head at event 5: signed by another key"))
      << all(with_forged.problems);
}

TEST_P(AuditSigningTest, ACutTailIsFoundByItsHeadsOrByTheWitness) {
  auto store = signed_store(6);
  ASSERT_TRUE(store);
  auto witness = store->signed_heads(0, 100).value();  // what a witness file holds
  raw_exec(url_, "DELETE FROM audit_events WHERE seq > 4");
  auto v = store->verify_audit();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->problems,
            std::vector<std::string>{"signed heads at events 5..6 beyond the chain's last event "
                                     "4: events 5..6 were removed (a cut tail)"});
  // Heads removed too: the store alone cannot tell; the witness can.
  raw_exec(url_, "DELETE FROM audit_heads WHERE seq > 4");
  v = store->verify_audit();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok()) << all(v->problems);
  auto events = store->audit_events(0, 100).value();
  auto heads = store->signed_heads(0, 100).value();
  AuditVerification witnessed = verify_audit_chain(events);
  verify_signed_heads(events, heads, key_->public_key(), &witness, witnessed);
  EXPECT_EQ(witnessed.problems,
            std::vector<std::string>{"witness heads at events 5..6 beyond the chain's last event "
                                     "4: events 5..6 were removed (a cut tail)"});
  // Events appended around the server: after the last signed head.
  raw_exec(url_,
           "INSERT INTO audit_events (seq, at_us, actor, action, subject, before_json, "
           "after_json, decision_json, prev_hash, hash) VALUES (5, 0, 'x', 'y', 'z', '', '', "
           "'', '" +
               events.back().hash + "', 'h')");
  v = store->verify_audit();
  ASSERT_TRUE(v);
  EXPECT_TRUE(has(v->problems, "events 5..5 come after the last signed head (event 4)"))
      << all(v->problems);
}

TEST_P(AuditSigningTest, LeasesAndJobsAreBoundToTheChain) {
  auto store = signed_store(1);
  ASSERT_TRUE(store);
  Batch b;
  b.leases = {lease("l-1", 8), lease("l-\"2\\", 16)};
  b.jobs = {job("j-1")};
  b.audit = {event(2)};
  auto r = store->commit(b);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->back().action, kStateDigestAction);
  EXPECT_EQ(r->back().actor, "system");
  // The head covers the digest event too.
  EXPECT_EQ(store->last_signed_head()->seq, r->back().seq);
  // A later update of l-1 is what counts.
  Batch later;
  later.leases = {lease("l-1", 4)};
  ASSERT_TRUE(store->commit(later));
  auto check = [&] {
    auto snapshot = store->load().value();
    return verify_state(store->audit_events(0, 100).value(), snapshot.leases, snapshot.jobs);
  };
  EXPECT_TRUE(check().empty()) << all(check());

  raw_exec(url_, "UPDATE leases SET gpus = 5000 WHERE id = 'l-1'");
  EXPECT_EQ(check(), std::vector<std::string>{"lease l-1: differs from what the audit chain "
                                              "recorded at event 4 (changed around the server)"});
  raw_exec(url_, "UPDATE leases SET gpus = 4 WHERE id = 'l-1'");
  EXPECT_TRUE(check().empty()) << all(check());
  raw_exec(url_,
           "INSERT INTO jobs (id, org, team, state, spec_json, placement_json, decision_json, "
           "submitted_at_us, submitted_by, updated_at_us, run_json) VALUES ('j-9', 'org-a', 't', "
           "'queued', '{}', '', '', 0, 'u-1', 0, '')");
  EXPECT_EQ(check(), std::vector<std::string>{
                         "job j-9: the audit chain never recorded it (written around the server)"});
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditSigningTest,
                         testing::Values(StoreUrl::Kind::kSqlite, StoreUrl::Kind::kPostgres),
                         testing_util::backend_name);

TEST(SigningKeyTest, AKeyFileIsCreated0600AndReadBackAndOneOthersMayReadIsRefused) {
  straits::testing_util::TempDir dir("signing-key");
  const auto path = dir.path() / "key";
  bool created = false;
  auto first = SigningKey::load_or_create(path, &created);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_TRUE(created);
  EXPECT_EQ(std::filesystem::status(path).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto again = SigningKey::load_or_create(path, &created);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_FALSE(created);
  EXPECT_EQ(again->public_key(), first->public_key());
  std::filesystem::permissions(path, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  auto refused = SigningKey::load_or_create(path, &created);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(read_public_key(first->public_key()).value(), first->public_key());
  EXPECT_FALSE(read_public_key("not a key"));
}

}  // namespace
}  // namespace straits::store
