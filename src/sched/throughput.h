// How fast a job runs on a chip. Work is counted in reference GPU-hours (see
// job.h); a chip's speed is its dense BF16 peak times an efficiency factor,
// relative to the reference chip's, unless a per-(model, chip) table says
// otherwise (measured speeds, e.g. from Gavel's throughput table).
#pragma once

#include <map>
#include <string>

#include "catalog/catalog.h"
#include "core/error.h"
#include "sched/job.h"

namespace straits::sched {

class ThroughputModel {
 public:
  // REQUIRES: `catalog` outlives the model.
  static Result<ThroughputModel> make(const catalog::Catalog& catalog, const ChipId& reference,
                                      std::map<ChipId, double> efficiency = {});

  // Speed relative to the reference chip: 2.0 means twice as fast.
  double speed(const Job& job, const catalog::Chip& chip) const;
  // Wall time for `work` reference GPU-hours on `gpus` GPUs of `chip`.
  Duration run_time(const Job& job, const catalog::Chip& chip, double work) const;
  // Wall time for `work` reference GPU-hours on `gpus` GPUs at `speed`.
  static Duration run_time_at(double speed, int gpus, double work);
  // Reference GPU-hours done by `gpus` GPUs of `chip` in `elapsed`.
  double work_done(const Job& job, const catalog::Chip& chip, Duration elapsed) const;

  // A measured speed for (model, chip), relative to the reference chip.
  void set_model_speed(const std::string& model, const ChipId& chip, double speed);
  const ChipId& reference() const { return reference_; }

 private:
  const catalog::Catalog* catalog_ = nullptr;
  ChipId reference_;
  double reference_peak_ = 1;
  std::map<ChipId, double> efficiency_;
  std::map<std::pair<std::string, ChipId>, double> model_speed_;
};

}  // namespace straits::sched
