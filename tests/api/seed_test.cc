// The seed file (straits serve --seed): the example world of `make run` is written with
// dates relative to the first start, so it is as alive years later as on the day it was
// written: its leases active, its jobs placed by a scheduling pass. Relative dates resolve
// against the server's clock at that start; absolute ISO dates still work; a bad relative
// date is refused with the file and the field.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "server_fixture.h"

namespace straits::api {
namespace {

using nlohmann::json;
using testing_util::Answer;
using testing_util::at;
using testing_util::TestServer;

std::filesystem::path example_seed() {
  return std::filesystem::path(STRAITS_SOURCE_DIR) / "examples/serve/seed.json";
}

// Writes `seed` beside the server's store and names it as the seed file.
std::filesystem::path write_seed(TestServer& server, const json& seed) {
  const std::filesystem::path file = server.dir() / "seed.json";
  std::ofstream(file) << seed.dump(2);
  server.options().seed = file;
  return file;
}

// A lease of the Tokyo pool in a seed file, with its dates as written there.
json tokyo_lease(const std::string& start, const std::string& end) {
  return {{"org", "bellhollow"},
          {"pool", "jp-tokyo-1-h100"},
          {"gpus", 8},
          {"start", start},
          {"end", end}};
}

// What Server::create said, or "" when it started.
std::string start_error(TestServer& server) {
  try {
    server.start();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(SeedTest, TheExampleWorldStartedYearsAheadHasActiveLeasesAndPlacesItsJobs) {
  const Instant first_start = at("2031-06-01T00:00:00Z");
  TestServer server(first_start);
  server.options().seed = example_seed();
  server.start();
  const std::string admin = server.admin_token();

  Answer leases = server.get("/v1/leases", admin);
  ASSERT_EQ(leases.status, 200) << leases.text;
  ASSERT_EQ(leases.body["items"].size(), 3u) << leases.text;
  for (const json& lease : leases.body["items"]) {
    EXPECT_EQ(lease["state"], "active") << lease.dump();
    EXPECT_EQ(lease["decision"]["decision"], "allow") << lease.dump();
    EXPECT_LT(*parse_instant(lease["start"].get<std::string>()), first_start) << lease.dump();
    EXPECT_GT(*parse_instant(lease["end"].get<std::string>()), first_start + Duration::days(90))
        << lease.dump();
  }
  // "-30d" and "+210d" from the first start.
  EXPECT_EQ(leases.body["items"][0]["start"], "2031-05-02T00:00:00Z");
  EXPECT_EQ(leases.body["items"][0]["end"], "2031-12-28T00:00:00Z");

  ASSERT_TRUE(server.server().schedule_now());
  Answer jobs = server.get("/v1/jobs", admin);
  ASSERT_EQ(jobs.status, 200) << jobs.text;
  std::map<std::string, json> by_name;
  for (const json& job : jobs.body["items"]) by_name[job["spec"]["name"]] = job;
  ASSERT_EQ(by_name.size(), 4u) << jobs.text;
  for (const char* placed : {"pretrain-7b", "asr-finetune", "crawl-lm"}) {
    EXPECT_EQ(by_name[placed]["state"], "assigned") << by_name[placed].dump();
    EXPECT_TRUE(by_name[placed]["placement"].is_object()) << by_name[placed].dump();
  }
  // On the capacity the seed leased: Bellhollow's one lease, Hanshan's H100/H200 leases.
  EXPECT_EQ(by_name["crawl-lm"]["placement"].value("pool", ""), "jp-tokyo-1-h100");
  const std::string pretrain_pool = by_name["pretrain-7b"]["placement"].value("pool", "");
  EXPECT_TRUE(pretrain_pool == "sg-tuas-1-h100" || pretrain_pool == "my-sedenak-1-h200")
      << pretrain_pool;
  // The one that waits, as on the day the world was written: its dataset of personal data
  // needs an export approval the lab does not hold.
  EXPECT_EQ(by_name["dialogue-sft"]["state"], "queued");
  EXPECT_EQ(by_name["dialogue-sft"]["waiting"]["rule"], "cn.pipl.nov2021.personal-export")
      << by_name["dialogue-sft"].dump();
}

TEST(SeedTest, RelativeAndAbsoluteDatesMixAndResolveAgainstTheFirstStart) {
  TestServer server(at("2030-03-10T12:34:56.789Z"));
  write_seed(
      server,
      {{"leases", {tokyo_lease("-1d", "+P1DT2H"), tokyo_lease("+2h", "2031-01-01T00:00:00Z")}}});
  server.start();
  Answer leases = server.get("/v1/leases", server.admin_token());
  ASSERT_EQ(leases.body["items"].size(), 2u) << leases.text;
  // Whole seconds of the server's clock, then the offset.
  EXPECT_EQ(leases.body["items"][0]["start"], "2030-03-09T12:34:56Z");
  EXPECT_EQ(leases.body["items"][0]["end"], "2030-03-11T14:34:56Z");
  EXPECT_EQ(leases.body["items"][1]["start"], "2030-03-10T14:34:56Z");
  EXPECT_EQ(leases.body["items"][1]["end"], "2031-01-01T00:00:00Z");
}

TEST(SeedTest, ABadRelativeDateNamesTheFileAndTheField) {
  for (const char* bad : {"+3x", "+-1d", "+", "-"}) {
    TestServer server(at("2030-01-01T00:00:00Z"));
    const std::filesystem::path file =
        write_seed(server, {{"leases", {tokyo_lease("-1d", "+30d"), tokyo_lease("-1d", bad)}}});
    const std::string error = start_error(server);
    EXPECT_NE(error.find(file.string() + ": leases[1].end: relative date '" + bad + "'"),
              std::string::npos)
        << bad << ": " << error;
  }
}

}  // namespace
}  // namespace straits::api
