// Fuzzes the control plane's request handling: every route that takes a
// body gets arbitrary bytes as its body and query string, as the admin (who
// may reach every handler). The server must answer each with a status below
// 500 and a JSON error or a JSON value: a 500 or a crash is a bug in the
// reading of requests. No state crosses inputs: each one is answered by a
// server started afresh on a copy of the same pristine store (an SQLite file
// made once, in a temporary folder), so that a crash replays from its input
// alone, whatever ran before it.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "api/server.h"
#include "core/clock.h"

namespace {

struct Fixture {
  straits::ManualClock clock{straits::Instant::from_unix_microseconds(1'767'225'600'000'000)};
  std::filesystem::path dir;
  std::string admin;

  Fixture() {
    dir =
        std::filesystem::temp_directory_path() / ("straits-api-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "pristine");
    // The first start seeds the store and makes the admin token; later
    // starts on copies of it load what it wrote.
    auto first = start(dir / "pristine");
    admin = "Bearer " + *first->bootstrap_token();
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  std::unique_ptr<straits::api::Server> start(const std::filesystem::path& folder) {
    straits::api::ServerOptions options;
    options.store = {straits::store::StoreUrl::Kind::kSqlite, (folder / "fuzz.db").string()};
    options.catalog_dir = STRAITS_FUZZ_CATALOG;
    options.rule_dirs = {STRAITS_FUZZ_RULES};
    options.schedule_interval = straits::Duration::seconds(0);
    auto created = straits::api::Server::create(options, clock);
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().to_string().c_str());
      std::abort();
    }
    return std::move(created).value();
  }

  // A server on a fresh copy of the pristine store.
  std::unique_ptr<straits::api::Server> fresh() {
    const auto folder = dir / "input";
    std::filesystem::remove_all(folder);
    std::filesystem::copy(dir / "pristine", folder, std::filesystem::copy_options::recursive);
    return start(folder);
  }
};

// Routes with a body, and targets with ids that exist after setup.
const char* const kTargets[][2] = {
    {"POST", "/v1/jobs"},
    {"POST", "/v1/leases"},
    {"POST", "/v1/leases/quote"},
    {"POST", "/v1/decisions"},
    {"POST", "/v1/users"},
    {"POST", "/v1/pools"},
    {"POST", "/v1/licences"},
    {"POST", "/v1/datasets"},
    {"PATCH", "/v1/pools/sg-tuas-1-h100"},
    {"PATCH", "/v1/orgs/bellhollow"},
    {"POST", "/v1/users/u-00000001/tokens"},
    {"GET", "/v1/jobs"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture* fixture = new Fixture();
  if (size < 1) return 0;
  const auto& [method, path] = kTargets[data[0] % std::size(kTargets)];
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  // A line break splits a query string from the body.
  std::string target = path, body = rest;
  if (const auto nl = rest.find('\n'); nl != std::string::npos && nl < 200) {
    target += "?" + rest.substr(0, nl);
    body = rest.substr(nl + 1);
  }
  auto server = fixture->fresh();
  auto answer = server->handle(method, target, fixture->admin, body);
  if (answer.status >= 500 || answer.status < 200) {
    std::fprintf(stderr, "%s %s -> %d %s\n", method, target.c_str(), answer.status,
                 answer.body.c_str());
    std::abort();
  }
  return 0;
}
