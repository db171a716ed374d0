#include "api/internal/metrics.h"

#include <sstream>

#include "api/internal/world.h"

namespace straits::api::internal {
namespace {

void observe(auto& histogram, const auto& buckets, double seconds) {
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (seconds <= buckets[i]) ++histogram.buckets[i];
  }
  ++histogram.count;
  histogram.sum += seconds;
}

void write_histogram(std::ostringstream& out, const std::string& name, const std::string& labels,
                     const auto& histogram, const auto& buckets) {
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    out << name << "_bucket{" << labels << sep << "le=\"" << buckets[i] << "\"} "
        << histogram.buckets[i] << "\n";
  }
  out << name << "_bucket{" << labels << sep << "le=\"+Inf\"} " << histogram.count << "\n";
  out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << " " << histogram.sum
      << "\n";
  out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << " " << histogram.count
      << "\n";
}

}  // namespace

void Metrics::record(const std::string& method, const std::string& route, int status,
                     Duration took) {
  std::lock_guard lock(mutex_);
  ++requests_[{method, route, status}];
  observe(latency_[{method, route}], kBuckets, took.count_microseconds() / 1e6);
}

void Metrics::record_pass(Duration took, std::size_t started, std::size_t waiting) {
  std::lock_guard lock(mutex_);
  observe(passes_, kBuckets, took.count_microseconds() / 1e6);
  last_started_ = started;
  last_waiting_ = waiting;
}

std::string Metrics::render(const World& world, std::uint64_t commits,
                            std::uint64_t mutations) const {
  std::ostringstream out;
  {
    std::lock_guard lock(mutex_);
    out << "# HELP straits_http_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE straits_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      const auto& [method, route, status] = key;
      out << "straits_http_requests_total{method=\"" << method << "\",route=\"" << route
          << "\",status=\"" << status << "\"} " << n << "\n";
    }
    out << "# HELP straits_http_request_duration_seconds Time to answer a request, by route.\n"
           "# TYPE straits_http_request_duration_seconds histogram\n";
    for (const auto& [key, h] : latency_) {
      write_histogram(out, "straits_http_request_duration_seconds",
                      "method=\"" + key.first + "\",route=\"" + key.second + "\"", h, kBuckets);
    }
    out << "# HELP straits_scheduling_pass_seconds Time of one scheduling pass.\n"
           "# TYPE straits_scheduling_pass_seconds histogram\n";
    write_histogram(out, "straits_scheduling_pass_seconds", "", passes_, kBuckets);
  }
  out << "# HELP straits_store_commits_total Store transactions committed (group commits).\n"
         "# TYPE straits_store_commits_total counter\n"
         "straits_store_commits_total "
      << commits << "\n";
  out << "# HELP straits_mutations_total Changes the writer ran (each with its own reply).\n"
         "# TYPE straits_mutations_total counter\n"
         "straits_mutations_total "
      << mutations << "\n";
  std::map<JobState, std::uint64_t> by_state;
  std::map<std::string, std::int64_t> used;
  for (const auto& [id, job] : world.jobs) {
    ++by_state[job.state];
    if (job.pool) {
      for (const auto& [node, gpus] : job.nodes) used[*job.pool] += gpus;
    }
  }
  out << "# HELP straits_queue_length Jobs waiting to be placed.\n"
         "# TYPE straits_queue_length gauge\n"
         "straits_queue_length "
      << by_state[JobState::kQueued] << "\n";
  out << "# HELP straits_jobs Jobs by state.\n# TYPE straits_jobs gauge\n";
  for (JobState s : kJobStates) {
    out << "straits_jobs{state=\"" << to_string(s) << "\"} " << by_state[s] << "\n";
  }
  std::map<std::string, std::int64_t> leased;
  for (const auto& [id, lease] : world.leases) {
    if (lease.state == "active") leased[lease.pool] += lease.gpus;
  }
  out << "# HELP straits_pool_gpus GPUs of each pool.\n# TYPE straits_pool_gpus gauge\n";
  for (const catalog::Pool& p : world.policy->catalog.pools()) {
    out << "straits_pool_gpus{pool=\"" << p.id.str() << "\"} " << p.gpus() << "\n";
  }
  out << "# HELP straits_pool_gpus_leased GPUs under active leases, by pool.\n"
         "# TYPE straits_pool_gpus_leased gauge\n";
  for (const auto& [pool, n] : leased) {
    out << "straits_pool_gpus_leased{pool=\"" << pool << "\"} " << n << "\n";
  }
  out << "# HELP straits_pool_gpus_used GPUs held by placed jobs, by pool.\n"
         "# TYPE straits_pool_gpus_used gauge\n";
  for (const auto& [pool, n] : used) {
    out << "straits_pool_gpus_used{pool=\"" << pool << "\"} " << n << "\n";
  }
  return out.str();
}

}  // namespace straits::api::internal
