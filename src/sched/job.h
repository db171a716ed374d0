// A training job as the scheduler sees it: a gang of GPUs that runs inside
// one pool, its work, and what its owner asks for (preferences, deadline).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/id.h"
#include "core/money.h"
#include "core/time.h"

namespace straits::sched {

// What the job's owner asks of placement.
struct Preferences {
  std::vector<SiteId> site_order;   // ordered preference: earlier is better
  std::vector<SiteId> allow_sites;  // empty: any site
  std::vector<SiteId> deny_sites;
  std::optional<Money> max_price_per_gpu_hour;  // price ceiling
};

struct Job {
  JobId id;
  OrgId org;
  std::string team;
  int gpus = 1;                        // the gang: all of them, inside one pool
  std::vector<ChipId> eligible_chips;  // empty: any chip
  // Work in reference GPU-hours: the GPU-hours the job needs on the
  // reference chip (ThroughputModel); on a chip twice as fast it takes half.
  double work = 0;
  std::string model;  // optional key of a per-(model, chip) speed table
  int priority = 0;   // larger first, for the priority policy
  Duration checkpoint_interval = Duration::hours(2);  // 0: never checkpoints
  double checkpoint_gb = 0;                           // size of one checkpoint
  std::vector<DatasetId> datasets;
  std::string purpose = "training";
  Instant submit;
  std::optional<Instant> deadline;
  Preferences preferences;
};

// A contract: `org` rents `gpus` GPUs of `pool` over [start, end).
struct Lease {
  LeaseId id;
  OrgId org;
  PoolId pool;
  int gpus = 0;
  Instant start;
  Instant end;
  Money price_per_gpu_hour;  // what the org pays; the pool's list price when not negotiated
};

}  // namespace straits::sched
