#include "sched/throughput.h"

#include <cmath>

namespace straits::sched {
namespace {

double peak(const catalog::Chip& chip) {
  // Dense BF16; chips that publish only INT8/FP8 count at half of it.
  if (chip.bf16_dense_tflops) return *chip.bf16_dense_tflops;
  return chip.int8_dense_tops.value_or(1) / 2;
}

}  // namespace

Result<ThroughputModel> ThroughputModel::make(const catalog::Catalog& catalog,
                                              const ChipId& reference,
                                              std::map<ChipId, double> efficiency) {
  const catalog::Chip* ref = catalog.find_chip(reference);
  if (ref == nullptr) {
    return Error(ErrorCode::kNotFound,
                 "reference chip '" + reference.str() + "' is not in the catalog");
  }
  for (const auto& [chip, factor] : efficiency) {
    if (catalog.find_chip(chip) == nullptr) {
      return Error(ErrorCode::kNotFound, "efficiency for unknown chip '" + chip.str() + "'");
    }
    if (!(factor > 0)) {
      return Error(ErrorCode::kInvalidArgument,
                   "efficiency of '" + chip.str() + "' must be greater than zero");
    }
  }
  ThroughputModel model;
  model.catalog_ = &catalog;
  model.reference_ = reference;
  model.efficiency_ = std::move(efficiency);
  auto eff = model.efficiency_.find(reference);
  model.reference_peak_ = peak(*ref) * (eff == model.efficiency_.end() ? 1.0 : eff->second);
  return model;
}

double ThroughputModel::speed(const Job& job, const catalog::Chip& chip) const {
  if (!job.model.empty()) {
    auto it = model_speed_.find({job.model, chip.id});
    if (it != model_speed_.end()) return it->second;
  }
  auto eff = efficiency_.find(chip.id);
  double factor = eff == efficiency_.end() ? 1.0 : eff->second;
  return peak(chip) * factor / reference_peak_;
}

Duration ThroughputModel::run_time(const Job& job, const catalog::Chip& chip, double work) const {
  return run_time_at(speed(job, chip), job.gpus, work);
}

Duration ThroughputModel::run_time_at(double speed, int gpus, double work) {
  double hours = work / (gpus * speed);
  // Whole seconds, rounded up: a job never finishes before its work is done.
  return Duration::seconds(static_cast<std::int64_t>(std::ceil(hours * 3600.0 - 1e-9)));
}

double ThroughputModel::work_done(const Job& job, const catalog::Chip& chip,
                                  Duration elapsed) const {
  return elapsed.to_hours() * job.gpus * speed(job, chip);
}

void ThroughputModel::set_model_speed(const std::string& model, const ChipId& chip, double speed) {
  model_speed_[{model, chip}] = speed;
}

}  // namespace straits::sched
