// Rule sets in the store (issue 17, migration 0006), on both backends: a set
// round-trips through commit and load with every column, its moves through
// the states are upserts of the same row, and a batch's rule set hash is
// named by the state digest event the store adds.
#include <gtest/gtest.h>

#include "store/backend.h"
#include "store/records.h"
#include "store/store.h"

namespace straits::store {
namespace {

Instant at(std::int64_t seconds) {
  return Instant::from_unix_seconds(1'764'374'400 + seconds);
}

RulesetRecord draft(const std::string& id, const std::string& name) {
  RulesetRecord r;
  r.id = id;
  r.name = name;
  r.hash = std::string(64, 'a');
  r.packs_json =
      R"({"packs":[{"name":"default","files":{"a.rules":"rule x {\n}\n"}}],"params":{}})";
  r.catalog_fingerprint = std::string(64, 'c');
  r.created_at = at(1);
  r.created_by = "u-00000001";
  return r;
}

class RulesetRecordsTest : public testing_util::BackendTest {
 protected:
  std::unique_ptr<Store> migrated() {
    auto store = open();
    if (!store) return nullptr;
    auto m = store->migrate();
    EXPECT_TRUE(m) << m.error().to_string();
    return store;
  }
};

TEST_P(RulesetRecordsTest, ARuleSetRoundTripsThroughCommitAndLoadWithEveryColumn) {
  auto store = migrated();
  ASSERT_TRUE(store);
  // Given out of order: load returns them by id.
  RulesetRecord adopted = draft("rs-00000002", "Zoë's \"pack\" 東京");
  adopted.state = "adopted";
  adopted.effective = Instant::from_unix_seconds(0);
  adopted.proposed_at = at(2);
  adopted.proposed_by = "u-00000002";
  adopted.adopted_at = at(3);
  adopted.adopted_by = "u-00000003";
  Batch batch;
  batch.rulesets = {adopted, draft("rs-00000001", "first")};
  ASSERT_TRUE(store->commit(batch));
  auto loaded = store->load();
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  ASSERT_EQ(loaded->rulesets.size(), 2u);
  EXPECT_EQ(loaded->rulesets[0], draft("rs-00000001", "first"));
  EXPECT_EQ(loaded->rulesets[1], adopted);
  EXPECT_FALSE(loaded->rulesets[0].effective);
}

TEST_P(RulesetRecordsTest, MovingASetThroughItsStatesReplacesItsRow) {
  auto store = migrated();
  ASSERT_TRUE(store);
  RulesetRecord r = draft("rs-00000001", "next");
  Batch create;
  create.rulesets = {r};
  ASSERT_TRUE(store->commit(create));
  r.state = "retired";
  r.effective = at(100);
  r.retired_at = at(200);
  r.retired_by = "u-00000009";
  Batch retire;
  retire.rulesets = {r};
  ASSERT_TRUE(store->commit(retire));
  auto loaded = store->load();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->rulesets.size(), 1u);
  EXPECT_EQ(loaded->rulesets[0], r);
}

TEST_P(RulesetRecordsTest, TheStateDigestEventNamesTheBatchsRuleSet) {
  auto store = migrated();
  ASSERT_TRUE(store);
  Batch batch;
  batch.jobs = {{"j-1", "org-a", "t", "queued", "{}", "", "", at(1), "u-1", at(1), ""}};
  batch.ruleset = std::string(64, 'f');
  auto events = store->commit(batch);
  ASSERT_TRUE(events) << events.error().to_string();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().action, kStateDigestAction);
  EXPECT_EQ(events->front().decision_json, "{\"ruleset\":\"" + std::string(64, 'f') + "\"}");
  auto verified = store->verify_audit();
  ASSERT_TRUE(verified);
  EXPECT_TRUE(verified->ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, RulesetRecordsTest,
                         testing::Values(StoreUrl::Kind::kSqlite, StoreUrl::Kind::kPostgres),
                         testing_util::backend_name);

}  // namespace
}  // namespace straits::store
