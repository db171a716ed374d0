// What the sched tests share: the sim test catalog (pools of 2 nodes x 8
// H100, one node of 8 A800, ...), its base rules, and job and lease makers.
#pragma once

#include <filesystem>

#include "catalog/load.h"
#include "sched/scheduler.h"

namespace straits::sched::sched_test {

struct World {
  catalog::Catalog catalog =
      *catalog::load_catalog(std::filesystem::path(STRAITS_TEST_DATA_DIR) / "catalogs" / "sim");
  policy::Engine engine = *policy::Engine::load(
      catalog, {std::filesystem::path(STRAITS_TEST_DATA_DIR) / "sim" / "rules" / "base"});
  ThroughputModel throughput = *ThroughputModel::make(catalog, ChipId("h100-sxm"));
};

inline World& world() {
  static World w;
  return w;
}

inline const Instant t0 = Instant::from_date(2026, 1, 1);

// A job of hanshan-sg that never checkpoints.
inline Job job(const char* id, int gpus, double work) {
  Job j;
  j.id = JobId(id);
  j.org = OrgId("hanshan-sg");
  j.gpus = gpus;
  j.work = work;
  j.submit = t0;
  j.checkpoint_interval = Duration();
  return j;
}

// A 30-day lease from t0.
inline Lease lease_of(const char* id, const char* org, const char* pool, int gpus,
                      const char* price) {
  return Lease{LeaseId(id),        OrgId(org), PoolId(pool), gpus, t0, t0 + Duration::days(30),
               *parse_money(price)};
}

}  // namespace straits::sched::sched_test
