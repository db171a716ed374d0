#include "server_world.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace straits::bench {
namespace fs = std::filesystem;
namespace {

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// A catalog folder: the shipped chips and countries, generated the rest.
void make_catalog(const fs::path& dir, int pools, int orgs) {
  fs::create_directories(dir);
  fs::copy_file(fs::path(STRAITS_SOURCE_DIR) / "catalog/chips.yaml", dir / "chips.yaml");
  fs::copy_file(fs::path(STRAITS_SOURCE_DIR) / "catalog/countries.yaml", dir / "countries.yaml");
  const char* countries[] = {"SG", "MY", "JP", "US", "CN", "DE", "IN", "AE"};
  const char* chips[] = {"h100-sxm", "h200", "a100-sxm", "l40s", "b200"};
  std::string operators = "operators:\n", sites = "sites:\n", pool_text = "pools:\n",
              org_text = "orgs:\n";
  for (int o = 0; o < 10; ++o) {
    operators += "  - {id: op" + std::to_string(o) + ", name: Operator " + std::to_string(o) +
                 ", hq: \"" + countries[o % 8] + "\"}\n";
  }
  for (int s = 0; s < 50; ++s) {
    sites += "  - {id: site" + std::to_string(s) + ", name: Site " + std::to_string(s) +
             ", operator: op" + std::to_string(s % 10) + ", country: \"" + countries[s % 8] +
             "\", city: City}\n";
  }
  for (int g = 0; g < orgs; ++g) {
    org_text += "  - {id: org" + std::to_string(g) + ", name: Org " + std::to_string(g) +
                ", hq: \"" + countries[(g * 3) % 8] + "\"}\n";
  }
  for (int p = 0; p < pools; ++p) {
    pool_text += "  - {id: pool" + std::to_string(p) + ", site: site" + std::to_string(p % 50) +
                 ", chip: " + chips[p % 5] +
                 ", nodes: 8, gpus_per_node: 8, interconnect: IB, price_per_gpu_hour: \"" +
                 std::to_string(2 + p % 5) + ".00 USD\", price_source: generated" +
                 (p % 4 == 3 ? ", owner: org" + std::to_string(p % orgs) : std::string()) + "}\n";
  }
  write(dir / "operators.yaml", operators);
  write(dir / "sites.yaml", sites);
  write(dir / "pools.yaml", pool_text);
  write(dir / "orgs.yaml", org_text);
}

// Runs `requests` on `threads` threads (concurrent requests share commits).
template <typename Make>
int run_parallel(api::Server& server, const std::string& auth, int count, Make make) {
  std::atomic<int> next{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 32; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        auto [target, body] = make(i);
        auto answer = server.handle("POST", target, auth, body);
        if (answer.status != 201) {
          if (failed++ == 0) std::fprintf(stderr, "%d %s\n", answer.status, answer.body.c_str());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed;
}

}  // namespace

ServerWorld::~ServerWorld() {
  server.reset();
  if (!dir.empty()) fs::remove_all(dir);
}

std::unique_ptr<ServerWorld> make_server_world(const std::string& name, int jobs, int pools) {
  const int orgs = 20;
  auto world = std::make_unique<ServerWorld>();
  const fs::path& dir = world->dir =
      fs::temp_directory_path() / ("straits-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  make_catalog(dir / "catalog", pools, orgs);
  world->clock = std::make_unique<ManualClock>(*parse_instant("2026-01-01T00:00:00Z"));
  api::ServerOptions options;
  options.store = {store::StoreUrl::Kind::kSqlite, (dir / "store.db").string()};
  options.catalog_dir = dir / "catalog";
  options.rule_dirs = {fs::path(STRAITS_SOURCE_DIR) / "rules/default"};
  options.schedule_interval = Duration::seconds(0);
  auto server = api::Server::create(options, *world->clock);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().to_string().c_str());
    return nullptr;
  }
  const std::string auth = world->auth = "Bearer " + *(*server)->bootstrap_token();
  std::mt19937_64 rng(42);
  std::vector<int> lease_pool, lease_org;
  for (int p = 0, n = 0; p < pools && n < pools * 5 / 4; ++p) {
    if (p % 4 == 3) continue;  // owned
    // Most leasable pools leased by two orgs, half the pool each.
    for (int k = 0; k < 2 && n < pools * 5 / 4; ++k, ++n) {
      lease_pool.push_back(p);
      lease_org.push_back(static_cast<int>(rng() % orgs));
    }
  }
  const auto setup = std::chrono::steady_clock::now();
  int failed = run_parallel(**server, auth, static_cast<int>(lease_pool.size()), [&](int i) {
    return std::pair<std::string, std::string>(
        "/v1/leases",
        "{\"org\":\"org" + std::to_string(lease_org[i]) + "\",\"pool\":\"pool" +
            std::to_string(lease_pool[i]) +
            "\",\"gpus\":32,\"start\":\"2026-01-01T00:00:00Z\",\"end\":\"2027-01-01T00:00:00Z\"}");
  });
  std::vector<std::string> job_bodies;
  const char* chip_sets[] = {"", "\"h100-sxm\"", "\"h100-sxm\",\"h200\"", "\"a100-sxm\"",
                             "\"b200\""};
  const int sizes[] = {1, 2, 4, 8, 8, 16, 32, 64};
  for (int j = 0; j < jobs; ++j) {
    job_bodies.push_back("{\"org\":\"org" + std::to_string(rng() % orgs) +
                         "\",\"gpus\":" + std::to_string(sizes[rng() % 8]) +
                         ",\"work\":" + std::to_string(10 + rng() % 5000) +
                         ",\"eligible_chips\":[" + chip_sets[rng() % 5] +
                         "],\"priority\":" + std::to_string(rng() % 3) + "}");
  }
  failed += run_parallel(**server, auth, jobs, [&](int i) {
    return std::pair<std::string, std::string>("/v1/jobs", job_bodies[i]);
  });
  world->setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup).count();
  world->leases = lease_pool.size();
  world->refused = failed;
  world->server = std::move(server).value();
  return world;
}

}  // namespace straits::bench
