#include "sim/generator.h"

#include "sim/internal/random.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

// Determinism. Everything random here is computed from the seed with integer
// operations and IEEE 754 double additions, multiplications, divisions and
// square roots, which every conforming platform rounds the same way. The
// logarithm and exponential are our own (below) because libm's differ in
// the last bit between C libraries. Fusing a multiply and an add into one
// FMA instruction would round differently, so it is turned off: g++ does
// not fuse in ISO C++ mode (-std=c++20, no GNU extensions), clang is told so.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace straits::sim {
namespace {

using internal::det_log;
using internal::kLn2;
using internal::kLn2Hi;
using internal::kLn2Lo;
using internal::kSqrt2Pi;
using internal::Random;

// --- random numbers ----------------------------------------------------------

// e^x to about 1e-16 relative: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by
// its Taylor series, then scaled by 2^n (exact).
double det_exp(double x) {
  if (x > 709.7) return std::numeric_limits<double>::infinity();
  if (x < -745.2) return 0;
  const double n = std::nearbyint(x / kLn2);
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  // sum_{k=0}^{20} r^k / k!: the next term is below 1e-22.
  double sum = 1;
  for (int k = 20; k >= 1; --k) sum = 1 + sum * r / k;
  return std::ldexp(sum, static_cast<int>(n));
}

// Standard normal by the polar form of Box-Muller (Marsaglia), which needs
// no sine or cosine; the second value of each pair is dropped so that every
// draw uses the stream the same way.
double normal(Random& random) {
  while (true) {
    const double u = 2 * random.uniform() - 1;
    const double v = 2 * random.uniform() - 1;
    const double s = u * u + v * v;
    if (s > 0 && s < 1) return u * std::sqrt(-2 * det_log(s) / s);
  }
}

double exponential(Random& random, double rate) {
  return -det_log(random.open_uniform()) / rate;
}

// --- the model -----------------------------------------------------------------

// Job sizes are 2^k GPUs, k = 0..K (2^K the largest power of two <= max_gpus),
// with P(k) proportional to 2^(-kSizeAlpha k). With 0.6, one GPU is the most
// common size (about a third of jobs up to 1024 GPUs) and each doubling is
// 2^-0.6 = 0.66 times as common, while the GPUs it takes grow 2^0.4 = 1.32
// times per doubling: most jobs are small and most GPU-hours are in the
// largest gangs, the shape public traces of shared training clusters show.
constexpr double kSizeAlpha = 0.6;
// Run times are log-normal around the median with this sigma (of the
// natural log): the 95th percentile is e^(1.645 x 1.5) = 12 times the median.
constexpr double kDurationSigma = 1.5;
constexpr double kMinHours = 1.0 / 60;   // one minute
constexpr double kMaxHours = 30.0 * 24;  // thirty days
// Big gangs checkpoint; small ones restart from scratch.
constexpr int kCheckpointMinGpus = 8;
constexpr Duration kCheckpointInterval = Duration::hours(2);
constexpr double kCheckpointGbPerGpu = 2.0;
constexpr double kDatasetProbability = 0.2;

enum Stream : std::uint64_t { kArrivals, kTenancy, kSizes, kDurations, kChips, kData };

struct SizeModel {
  std::vector<int> sizes;
  std::vector<double> cumulative;  // normalised, last = 1
  double mean = 0;                 // E[gpus]
};

SizeModel size_model(int max_gpus) {
  SizeModel m;
  double total = 0, weighted = 0;
  std::vector<double> weights;
  for (int size = 1, k = 0; size <= max_gpus; size *= 2, ++k) {
    double w = det_exp(-kSizeAlpha * k * kLn2);
    m.sizes.push_back(size);
    weights.push_back(w);
    total += w;
    weighted += w * size;
    if (size > std::numeric_limits<int>::max() / 2) break;
  }
  double running = 0;
  for (double w : weights) {
    running += w;
    m.cumulative.push_back(running / total);
  }
  m.cumulative.back() = 1;
  m.mean = weighted / total;
  return m;
}

int draw_size(const SizeModel& m, Random& random) {
  const double u = random.uniform();
  for (std::size_t i = 0; i < m.sizes.size(); ++i) {
    if (u < m.cumulative[i]) return m.sizes[i];
  }
  return m.sizes.back();
}

double clamp_hours(double hours) {
  return std::min(kMaxHours, std::max(kMinHours, hours));
}

// E[clamp(median e^(sigma Z))] for a standard normal Z, by Simpson's rule
// over [-10, 10] (the mass outside is below 1e-22): the same on every machine.
double mean_hours(double median) {
  constexpr int kSteps = 20000;  // even
  constexpr double kLo = -10, kHi = 10;
  const double h = (kHi - kLo) / kSteps;
  double sum = 0;
  for (int i = 0; i <= kSteps; ++i) {
    const double z = kLo + i * h;
    const double f =
        clamp_hours(median * det_exp(kDurationSigma * z)) * det_exp(-z * z / 2) / kSqrt2Pi;
    const double weight = (i == 0 || i == kSteps) ? 1 : (i % 2 == 1 ? 4 : 2);
    sum += weight * f;
  }
  return sum * h / 3;
}

std::size_t pick_weighted(const std::vector<double>& weights, double total, Random& random) {
  const double u = random.uniform() * total;
  double running = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    running += weights[i];
    if (u < running) return i;
  }
  // Rounding can leave u just above the last sum: the last positive weight.
  for (std::size_t i = weights.size(); i-- > 0;) {
    if (weights[i] > 0) return i;
  }
  return 0;
}

std::string job_id(std::size_t index, std::size_t jobs) {
  // Wide enough for every id of the workload, and at least six digits, so
  // that ids sort as text in the order they were generated.
  int width = std::max(6, static_cast<int>(std::to_string(jobs).size()));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "job-%0*zu", width, index);
  return buffer;
}

}  // namespace

std::vector<sched::Job> generate_workload(const GeneratorOptions& options) {
  // Out-of-range options are brought to the nearest meaningful value rather
  // than refused: the generator has no error to report.
  const int max_gpus = std::max(1, options.max_gpus);
  const double median = options.median_hours > 0 ? options.median_hours : 1.0;
  const int teams = std::max(1, options.teams_per_org);

  std::vector<std::pair<OrgId, double>> orgs;
  for (const auto& [org, weight] : options.orgs) {
    if (weight > 0) orgs.emplace_back(org, weight);
  }
  if (orgs.empty()) orgs.emplace_back(OrgId("org-1"), 1.0);
  std::vector<double> org_weights;
  double org_total = 0;
  for (const auto& [org, weight] : orgs) {
    org_weights.push_back(weight);
    org_total += weight;
  }

  const SizeModel sizes = size_model(max_gpus);
  // Offered load: arrivals per hour x E[gpus x hours] = load x fleet GPUs;
  // size and duration are drawn independently, so E[gpus x hours] =
  // E[gpus] x E[hours]. No load or no fleet: every job arrives at the start.
  const double per_job = sizes.mean * mean_hours(median);
  const double rate = options.load * options.fleet_gpus / per_job;  // jobs per hour
  const bool arrivals = rate > 0 && std::isfinite(rate);

  Random arrival(options.seed, kArrivals), tenancy(options.seed, kTenancy),
      size(options.seed, kSizes), duration(options.seed, kDurations), chips(options.seed, kChips),
      data(options.seed, kData);

  std::vector<sched::Job> jobs;
  jobs.reserve(options.jobs);
  Instant now = options.start;
  for (std::size_t i = 1; i <= options.jobs; ++i) {
    sched::Job job;
    job.id = JobId(job_id(i, options.jobs));
    if (arrivals) now += Duration::from_seconds(exponential(arrival, rate) * 3600);
    job.submit = now;

    const std::size_t o = pick_weighted(org_weights, org_total, tenancy);
    job.org = orgs[o].first;
    job.team = "team-" + std::to_string(1 + tenancy.below(static_cast<std::uint64_t>(teams)));

    job.gpus = draw_size(sizes, size);
    const double hours = clamp_hours(median * det_exp(kDurationSigma * normal(duration)));
    job.work = job.gpus * hours;
    job.checkpoint_interval = job.gpus >= kCheckpointMinGpus ? kCheckpointInterval : Duration();
    job.checkpoint_gb = kCheckpointGbPerGpu * job.gpus;

    if (!options.chips.empty()) {
      // A non-empty subset, each chip in with probability 1/2; an empty draw
      // becomes one chip picked uniformly.
      for (const ChipId& chip : options.chips) {
        if (chips.next() >> 63) job.eligible_chips.push_back(chip);
      }
      if (job.eligible_chips.empty()) {
        job.eligible_chips.push_back(options.chips[chips.below(options.chips.size())]);
      }
    }
    if (!options.datasets.empty() && data.uniform() < kDatasetProbability) {
      job.datasets.push_back(options.datasets[data.below(options.datasets.size())]);
    }
    jobs.push_back(std::move(job));
  }
  // Already in submit order; the sort only fixes the order of equal times
  // (rare: moving a million jobs to find none is most of the generator's time).
  auto by_submit = [](const sched::Job& a, const sched::Job& b) {
    if (a.submit != b.submit) return a.submit < b.submit;
    return a.id < b.id;
  };
  if (!std::is_sorted(jobs.begin(), jobs.end(), by_submit)) {
    std::stable_sort(jobs.begin(), jobs.end(), by_submit);
  }
  return jobs;
}

}  // namespace straits::sim
