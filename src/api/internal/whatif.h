// What-if runs in the background (issue 18): the console's "compare a
// baseline with a what-if", run by the server as `sim compare` would, one at
// a time on a worker thread of its own, with progress, and kept in memory.
//
// - One run at a time; at most kMaxQueued wait behind it (past that, submit
//   refuses: 429). The last kKept finished runs are kept, with their
//   comparison (compare.json, as the summary) and page (compare.html); older
//   ones are forgotten. Nothing is written to the store.
// - A run works in a private folder (mode 0700) under `scratch`, removed when
//   it ends, whatever the outcome: what it leaves is in memory only.
// - Progress is reported by the simulator as it goes (sim::CompareOptions):
//   0 to 100, half a run each, and the stage ("baseline", "whatif").
// - stop() cancels the run in progress (the simulator stops within a few
//   thousand events) and fails the queued ones: a server stopping never waits
//   for a long simulation.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/internal/world.h"
#include "core/clock.h"
#include "core/error.h"
#include "sim/compare.h"
#include "sim/rule_change.h"
#include "sim/scenario.h"

namespace straits::api::internal {

// A shipped scenario (a YAML file of the scenarios folder).
struct ScenarioEntry {
  std::string id;     // the file name without .yaml: "hybrid-2025"
  std::string title;  // its first comment line, without "# id:"
  std::string file;   // "hybrid-2025.yaml"
};
// The scenarios of `dir` (*.yaml, sorted by id); none when it is missing.
std::vector<ScenarioEntry> list_scenarios(const std::filesystem::path& dir);

// What a run compares, as the caller asked for it.
struct WhatifSpec {
  nlohmann::json baseline;  // {"scenario": ID} or {"live": {"days": N}}
  nlohmann::json whatif;    // {"scenario": ID} or {"ruleset": ID}
};

// The comparison itself: runs into `dir` with `options` (progress,
// cancellation) and returns what sim::compare_scenarios returns.
using WhatifWork = std::function<Result<sim::Comparison>(const std::filesystem::path& dir,
                                                         const sim::CompareOptions& options)>;

// Two shipped scenarios side by side. The files are read now (404 naming the
// field for an unknown id, 422 for a scenario that does not load).
WhatifWork scenario_work(const std::filesystem::path& scenarios_dir,
                         const std::filesystem::path& shipped_root, const std::string& baseline,
                         const std::string& whatif);
// The world's last `days` of jobs under the rules in force (the baseline)
// and under rule set `ruleset` (the what-if), as `straits rules impact
// --simulate` replays them. The inputs are copied now, under the world's
// shared lock; the run reads nothing of the world after. 404 for an unknown
// set; 409 when no adopted set is in force.
WhatifWork live_work(const World& world, Instant now, int days, const std::string& ruleset);

class WhatifRunner {
 public:
  static constexpr std::size_t kMaxQueued = 4;
  static constexpr std::size_t kKept = 8;

  // `scratch`: where each run's private folder is made.
  WhatifRunner(const Clock& clock, std::filesystem::path scratch);
  ~WhatifRunner();  // stop(), then joins the worker
  WhatifRunner(const WhatifRunner&) = delete;
  WhatifRunner& operator=(const WhatifRunner&) = delete;

  // Queues a run; its JSON (state "queued"). nullopt when kMaxQueued runs
  // already wait, or the runner is stopping.
  std::optional<nlohmann::json> submit(WhatifSpec spec, std::string by, WhatifWork work);
  // Every run kept, newest first, without summaries.
  nlohmann::json list() const;
  // One run with its summary when done; nullopt when unknown (or forgotten).
  std::optional<nlohmann::json> get(const std::string& id) const;
  // A finished run's comparison page; nullopt unless the run is done.
  std::optional<std::string> report(const std::string& id) const;
  // Whether `key` is the report key of run `id` (its "report" link carries
  // it: the page can be opened in a tab, which sends no bearer token).
  bool report_key_matches(const std::string& id, const std::string& key) const;

  // Cancels the run in progress and fails the queued ones; later submits are
  // refused. Thread-safe, does not wait.
  void stop();

 private:
  struct Run;
  void serve_queue();  // the worker thread
  nlohmann::json json_of(const Run& run, bool with_summary) const;
  void forget_old();

  const Clock& clock_;
  std::filesystem::path scratch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<Run>> runs_;  // by id
  std::deque<std::shared_ptr<Run>> queue_;
  std::vector<std::string> order_;  // ids, oldest first
  std::int64_t next_ = 1;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace straits::api::internal
