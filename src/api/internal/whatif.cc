#include "api/internal/whatif.h"

#include <sodium.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

#include "api/internal/http.h"
#include "api/internal/impact.h"
#include "api/internal/rulesets.h"

namespace straits::api::internal {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// The first sentence of the comment a scenario file opens with, without its
// "id:": "# hybrid-2025: a lab's subsidiary\n# leases H100s. More" -> "a lab's
// subsidiary leases H100s.". At most 200 characters; the id when there is none.
std::string title_of(const fs::path& file, const std::string& id) {
  std::ifstream in(file);
  std::string text, line;
  while (std::getline(in, line) && line.rfind('#', 0) == 0 && text.size() < 400) {
    const std::size_t start = line.find_first_not_of("# ");
    if (start == std::string::npos) break;  // an empty comment line ends the paragraph
    text += (text.empty() ? "" : " ") + line.substr(start);
  }
  if (text.rfind(id + ":", 0) == 0) text.erase(0, id.size() + 1);
  text.erase(0, std::min(text.find_first_not_of(' '), text.size()));
  if (const std::size_t end = text.find(". "); end != std::string::npos) text.resize(end + 1);
  if (text.size() > 200) text = text.substr(0, 197) + "...";
  return text.empty() ? id : text;
}

std::string random_key() {
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  char hex[2 * sizeof bytes + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return hex;
}

sim::RuleSetFiles files_of(const RulesetContent& content) {
  sim::RuleSetFiles set;
  for (const policy::PackSource& pack : content.packs) {
    set.packs.push_back({pack.name, {pack.files.begin(), pack.files.end()}});
  }
  set.params = content.params;
  return set;
}

// The scenario `id` of the folder, loaded (404 naming `field` when the folder
// has no such scenario: only the listed names are looked up, never a path).
sim::Scenario load_listed(const fs::path& dir, const fs::path& root, const std::string& id,
                          const std::string& field) {
  const auto listed = list_scenarios(dir);
  if (std::none_of(listed.begin(), listed.end(),
                   [&](const ScenarioEntry& e) { return e.id == id; })) {
    throw HttpError{404, "not_found", "no scenario '" + id + "' (GET /v1/scenarios lists them)",
                    field, nullptr};
  }
  auto scenario = sim::load_scenario(dir / (id + ".yaml"), root);
  if (!scenario) {
    throw HttpError{422, "invalid_scenario",
                    "scenario '" + id + "' does not load: " + scenario.error().to_string(), field,
                    nullptr};
  }
  return std::move(scenario).value();
}

}  // namespace

std::vector<ScenarioEntry> list_scenarios(const fs::path& dir) {
  std::vector<ScenarioEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& file = it->path();
    if (file.extension() != ".yaml" || !it->is_regular_file(ec)) continue;
    const std::string id = file.stem().string();
    out.push_back({id, title_of(file, id), file.filename().string()});
  }
  std::sort(out.begin(), out.end(),
            [](const ScenarioEntry& a, const ScenarioEntry& b) { return a.id < b.id; });
  return out;
}

WhatifWork scenario_work(const fs::path& scenarios_dir, const fs::path& shipped_root,
                         const std::string& baseline, const std::string& whatif) {
  sim::Scenario base = load_listed(scenarios_dir, shipped_root, baseline, "baseline.scenario");
  sim::Scenario other = load_listed(scenarios_dir, shipped_root, whatif, "whatif.scenario");
  return [base = std::move(base), other = std::move(other)](const fs::path& dir,
                                                            const sim::CompareOptions& options) {
    return sim::compare_scenarios(base, other, dir, options);
  };
}

WhatifWork live_work(const World& world, Instant now, int days, const std::string& ruleset) {
  std::shared_lock lock(world.mutex);
  auto proposed = world.rulesets.find(ruleset);
  if (proposed == world.rulesets.end()) {
    throw HttpError{404, "not_found", "no rule set '" + ruleset + "'", "whatif.ruleset", nullptr};
  }
  const store::RulesetRecord* in_force = ruleset_in_force(world, now);
  if (in_force == nullptr) fail(409, "conflict", "no adopted rule set is in force to compare with");
  sim::SimulationInputs in;
  in.start = now - Duration::days(days);
  in.horizon = Duration::days(days);
  in.catalog_files = catalog_files(world);
  in.workload_jsonl = native_workload_jsonl(world, in.start, now);
  const sched::ClusterState fleet = fleet_state(world, in.start);
  in.leases = fleet.leases();
  in.in_force = files_of(stored_content(*in_force));
  in.proposed = files_of(stored_content(proposed->second));
  return [in = std::move(in)](const fs::path& dir, const sim::CompareOptions& options) {
    return sim::simulate_rule_change(in, dir, options);
  };
}

struct WhatifRunner::Run {
  std::string id, by, key;
  WhatifSpec spec;
  WhatifWork work;
  std::string state = "queued";
  std::string stage = "queued";
  int done = 0;  // of 100
  Instant created_at;
  std::optional<Instant> started_at, finished_at;
  std::string error;
  json summary;      // compare.json, when done
  std::string html;  // compare.html, when done
  std::atomic<bool> cancel{false};
};

WhatifRunner::WhatifRunner(const Clock& clock, fs::path scratch)
    : clock_(clock), scratch_(std::move(scratch)) {}

WhatifRunner::~WhatifRunner() {
  stop();
  if (worker_.joinable()) worker_.join();
}

std::optional<json> WhatifRunner::submit(WhatifSpec spec, std::string by, WhatifWork work) {
  std::lock_guard lock(mutex_);
  if (stopping_ || queue_.size() >= kMaxQueued) return std::nullopt;
  auto run = std::make_shared<Run>();
  run->id = "w-" + std::to_string(next_++);
  run->by = std::move(by);
  run->key = random_key();
  run->spec = std::move(spec);
  run->work = std::move(work);
  run->created_at = clock_.now();
  runs_[run->id] = run;
  order_.push_back(run->id);
  queue_.push_back(run);
  forget_old();
  if (!worker_.joinable()) worker_ = std::thread([this] { serve_queue(); });
  wake_.notify_one();
  return json_of(*run, false);
}

json WhatifRunner::list() const {
  std::lock_guard lock(mutex_);
  json items = json::array();
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    items.push_back(json_of(*runs_.at(*it), false));
  }
  return {{"items", items}};
}

std::optional<json> WhatifRunner::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(id);
  if (it == runs_.end()) return std::nullopt;
  return json_of(*it->second, true);
}

std::optional<std::string> WhatifRunner::report(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second->state != "done") return std::nullopt;
  return it->second->html;
}

bool WhatifRunner::report_key_matches(const std::string& id, const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(id);
  return it != runs_.end() && key.size() == it->second->key.size() &&
         sodium_memcmp(key.data(), it->second->key.data(), key.size()) == 0;
}

void WhatifRunner::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  for (auto& run : queue_) {
    run->state = "failed";
    run->stage = "failed";
    run->error = "the server stopped before the run began";
    run->finished_at = clock_.now();
  }
  queue_.clear();
  for (auto& [id, run] : runs_) run->cancel = true;
  wake_.notify_all();
}

json WhatifRunner::json_of(const Run& run, bool with_summary) const {
  auto instant = [](const std::optional<Instant>& t) {
    return t ? json(to_iso8601(*t)) : json(nullptr);
  };
  json out = {{"id", run.id},
              {"state", run.state},
              {"baseline", run.spec.baseline},
              {"whatif", run.spec.whatif},
              {"created_by", run.by},
              {"created_at", to_iso8601(run.created_at)},
              {"started_at", instant(run.started_at)},
              {"finished_at", instant(run.finished_at)},
              {"progress", {{"done", run.done}, {"total", 100}, {"stage", run.stage}}}};
  if (!run.error.empty()) out["error"] = run.error;
  if (run.state == "done") {
    out["report"] = "/v1/whatif/" + run.id + "/report?key=" + run.key;
    if (with_summary) out["summary"] = run.summary;
  }
  return out;
}

// Keeps the last kKept finished runs; queued and running ones always stay.
void WhatifRunner::forget_old() {
  std::size_t finished = 0;
  for (auto it = order_.rbegin(); it != order_.rend();) {
    const Run& run = *runs_.at(*it);
    const bool ended = run.state == "done" || run.state == "failed";
    if (ended && ++finished > kKept) {
      runs_.erase(*it);
      it = std::make_reverse_iterator(order_.erase(std::next(it).base()));
    } else {
      ++it;
    }
  }
}

void WhatifRunner::serve_queue() {
  for (;;) {
    std::shared_ptr<Run> run;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      run = queue_.front();
      queue_.pop_front();
      run->state = "running";
      run->stage = "baseline";
      run->started_at = clock_.now();
    }
    sim::CompareOptions options;
    options.on_run = [this, run](int which, const std::string&) {
      std::lock_guard lock(mutex_);
      run->stage = which == 0 ? "baseline" : "whatif";
      run->done = which * 50;
    };
    options.on_progress = [this, run](int which, double done) {
      std::lock_guard lock(mutex_);
      run->done = std::clamp(which * 50 + static_cast<int>(done * 50), 0, 99);
      return !run->cancel.load();
    };
    // A folder of its own (0700), removed whatever happens.
    std::string pattern = (scratch_ / "straits-whatif-XXXXXX").string();
    Result<sim::Comparison> result = Error(ErrorCode::kInternal, "no scratch folder");
    json summary;
    std::string html;
    if (::mkdtemp(pattern.data()) != nullptr) {
      const fs::path dir(pattern);
      try {
        result = run->work(dir / "run", options);
        if (result) {
          summary = json::parse(read_text(dir / "run" / "compare.json"), nullptr, false);
          html = read_text(dir / "run" / "compare.html");
        }
      } catch (const std::exception& e) {
        result = Error(ErrorCode::kInternal, e.what());
      }
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
    std::lock_guard lock(mutex_);
    run->finished_at = clock_.now();
    run->work = nullptr;  // the inputs go with it
    if (result) {
      run->state = run->stage = "done";
      run->done = 100;
      run->summary = summary.is_discarded() ? json(nullptr) : std::move(summary);
      run->html = std::move(html);
    } else {
      run->state = run->stage = "failed";
      run->error = result.error().to_string();
    }
    forget_old();
  }
}

}  // namespace straits::api::internal
