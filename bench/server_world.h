// A server-scale world made through the API (issue 6's fleet): a real
// `Server` on an SQLite store in a temporary folder, a generated catalog of
// POOLS pools (8 nodes x 8 GPUs, 50 sites in 8 countries, 10 operators; one
// pool in four owned by one of 20 orgs, the rest leasable), 1.25 leases a
// pool (32 GPUs each, 2026-01-01 to 2027-01-01) and JOBS jobs, made in
// process (Server::handle) from 32 threads. Shared by server_pass.cc and
// console_api_bench.cc.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "api/server.h"
#include "core/clock.h"

namespace straits::bench {

struct ServerWorld {
  std::filesystem::path dir;  // removed with the world
  std::unique_ptr<ManualClock> clock;
  std::unique_ptr<api::Server> server;
  std::string auth;  // "Bearer " and the admin's token
  std::size_t leases = 0;
  int refused = 0;  // requests of the setup that failed
  double setup_s = 0;
  ~ServerWorld();
};

// The world at 2026-01-01T00:00:00Z, every job queued (nothing scheduled
// yet); null after printing why to stderr. `name` names the folder.
std::unique_ptr<ServerWorld> make_server_world(const std::string& name, int jobs, int pools);

}  // namespace straits::bench
