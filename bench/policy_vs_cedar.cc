// straits vs Cedar, side by side in one run: the same lease and run requests
// over the default pack, decided by straits' compiled evaluator and by
// @cedar-policy/cedar-wasm under Node.js (bench/cedar/run.mjs) on policies
// that straits exports (Engine::to_cedar). Both must give the same answers
// (allow vs. not allow); the program prints throughput, latency and ratios.
//
// Usage: straits_policy_vs_cedar [--cedar-iterations N] [--out DIR]
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "catalog/load.h"
#include "policy/engine.h"

namespace {

namespace fs = std::filesystem;
using namespace straits;
using namespace straits::policy;
using Clock = std::chrono::steady_clock;

struct Item {
  Request request;
  Subject subject;
  Instant at;
  Outcome outcome;
  std::string principal, resource, action;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

std::string extract(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return "";
  at += key.size() + 3;
  auto end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

}  // namespace

const fs::path kSource(STRAITS_SOURCE_DIR);

// One side-by-side comparison over the packs given; 0 when both agree.
int compare(const catalog::Catalog& cat, const std::vector<fs::path>& packs,
            const std::string& label, int cedar_iterations, const fs::path& out_dir) {
  const catalog::Catalog* catalog = &cat;
  const fs::path& source = kSource;
  auto engine = Engine::load(cat, packs);
  if (!engine) {
    std::cerr << engine.error().to_string() << "\n";
    return 1;
  }

  // Requests: every org x pool lease, and every org x pool run with no dataset
  // or one dataset of the org's group (Cedar has no "any dataset" quantifier).
  std::vector<Instant> dates;
  for (const char* d : {"2022-12-01", "2023-12-01", "2025-03-01", "2025-06-01", "2025-09-01",
                        "2026-02-01", "2026-11-28", "2027-06-01"}) {
    dates.push_back(*parse_instant(d));
  }
  std::vector<Item> items;
  for (const auto& org : catalog->orgs()) {
    for (const auto& pool : catalog->pools()) {
      std::vector<std::pair<Request, std::string>> requests;
      requests.emplace_back(LeaseRequest{org.id, pool.id, {}, {}, {}}, "lease");
      requests.emplace_back(RunRequest{org.id, pool.id, JobSpec{64, 3e24, "training", {}}}, "run");
      for (const auto& d : catalog->datasets()) {
        if (catalog->ultimate_parent(d.owner).id == catalog->ultimate_parent(org.id).id) {
          requests.emplace_back(RunRequest{org.id, pool.id, JobSpec{64, 3e24, "training", {d.id}}},
                                "run");
        }
      }
      for (auto& [request, action] : requests) {
        auto subject = engine->resolve(request);
        if (!subject) {
          std::cerr << subject.error().to_string() << "\n";
          return 1;
        }
        for (Instant at : dates) {
          items.push_back(Item{request, *subject, at, engine->evaluate(*subject, at), org.id.str(),
                               pool.id.str(), action});
        }
      }
    }
  }
  std::size_t counts[3] = {0, 0, 0};
  for (const auto& item : items) ++counts[static_cast<int>(item.outcome)];

  // straits, throughput: the whole list again and again for at least a second.
  std::size_t decisions = 0;
  unsigned sink = 0;
  auto start = Clock::now();
  double seconds = 0;
  while (seconds < 1.0) {
    for (const auto& item : items)
      sink += static_cast<unsigned>(engine->evaluate(item.subject, item.at));
    decisions += items.size();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  double straits_per_second = static_cast<double>(decisions) / seconds;

  // straits, latency: each call timed alone, minus the timer's own cost.
  std::vector<double> empty, latency;
  for (int round = 0; round < 20; ++round) {
    for (const auto& item : items) {
      auto t0 = Clock::now();
      auto t1 = Clock::now();
      empty.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      auto a = Clock::now();
      sink += static_cast<unsigned>(engine->evaluate(item.subject, item.at));
      auto b = Clock::now();
      latency.push_back(std::chrono::duration<double, std::micro>(b - a).count());
    }
  }
  double timer = percentile(empty, 0.5);
  for (double& l : latency) l = std::max(0.0, l - timer);
  double p50 = percentile(latency, 0.5), p99 = percentile(latency, 0.99);

  // straits from ids: resolve + evaluate, as a caller without cached subjects.
  start = Clock::now();
  std::size_t resolved = 0;
  for (int round = 0; round < 20; ++round) {
    for (const auto& item : items) {
      auto s = engine->resolve(item.request);
      sink += static_cast<unsigned>(engine->evaluate(*s, item.at));
      ++resolved;
    }
  }
  double resolve_per_second =
      static_cast<double>(resolved) / std::chrono::duration<double>(Clock::now() - start).count();

  // Cedar: the exported policies, one request per item, expected = straits' answer.
  auto policies = engine->to_cedar({Action::kLease, Action::kRun});
  if (!policies) {
    std::cerr << policies.error().to_string() << "\n";
    return 1;
  }
  fs::create_directories(out_dir);
  std::ofstream(out_dir / "policies.cedar") << *policies;
  std::ofstream(out_dir / "entities.json") << "[]\n";
  {
    std::ofstream requests(out_dir / "requests.json");
    requests << "[\n";
    for (std::size_t i = 0; i < items.size(); ++i) {
      const Item& item = items[i];
      requests << "{\"principal\":{\"type\":\"Org\",\"id\":" << json_string(item.principal)
               << "},\"action\":{\"type\":\"Action\",\"id\":" << json_string(item.action)
               << "},\"resource\":{\"type\":\"Pool\",\"id\":" << json_string(item.resource)
               << "},\"context\":" << engine->cedar_context(item.subject, item.at)
               << ",\"expected\":\"" << (item.outcome == Outcome::kAllow ? "allow" : "deny")
               << "\"}" << (i + 1 < items.size() ? ",\n" : "\n");
    }
    requests << "]\n";
  }
  std::string command = "node " + (source / "bench" / "cedar" / "run.mjs").string() + " " +
                        out_dir.string() + " --iterations " + std::to_string(cedar_iterations) +
                        " --warmup 1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string cedar;
  char buffer[4096];
  std::size_t n;
  while (pipe && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0) cedar.append(buffer, n);
  int status = pipe ? pclose(pipe) : -1;
  int cedar_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

  double cedar_per_second = std::atof(extract(cedar, "per_second").c_str());
  double cedar_p50 = std::atof(extract(cedar, "p50_us").c_str());
  std::string version = extract(cedar, "version");
  version.erase(std::remove(version.begin(), version.end(), '"'), version.end());
  std::printf(
      "\n### %s\n\nrequests: %zu (lease and run at 8 dates; straits: %zu allow, "
      "%zu licence_required, %zu deny)\n\n",
      label.c_str(), items.size(), counts[0], counts[1], counts[2]);
  std::printf("| engine | decisions/s | p50 us | p99 us |\n|---|---|---|---|\n");
  std::printf("| straits evaluate (resolved subject) | %.0f | %.3f | %.3f |\n", straits_per_second,
              p50, p99);
  std::printf("| straits resolve + evaluate (from ids) | %.0f | | |\n", resolve_per_second);
  std::printf("| cedar-wasm %s (Node.js, pre-parsed policies) | %.0f | %s | %s |\n",
              version.c_str(), cedar_per_second, extract(cedar, "p50_us").c_str(),
              extract(cedar, "p99_us").c_str());
  std::printf("\n");
  std::printf("ratio straits/cedar-wasm throughput: %.0fx (target >= 500x)\n",
              straits_per_second / std::max(1.0, cedar_per_second));
  std::printf("ratio cedar-wasm/straits p50: %.0fx\n", cedar_p50 / std::max(1e-3, p50));
  std::printf(
      "straits p50 vs Cedar native median 4 us (reported 4-11 us): %.0fx under "
      "(target >= 4x)\n",
      4.0 / std::max(1e-3, p50));
  std::printf("answers: cedar %s (mismatches %s, errors %s)\n",
              cedar_exit == 0 ? "agrees with straits on every request" : "DISAGREES or failed",
              extract(cedar, "mismatches").c_str(), extract(cedar, "errors").c_str());
  std::printf("(sink %u)\n", sink & 1u);
  if (cedar_exit != 0) {
    std::fprintf(stderr, "cedar run failed (exit %d): %s\n", cedar_exit, cedar.c_str());
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  int cedar_iterations = 5;
  fs::path out_dir = fs::temp_directory_path() / "straits-cedar-bench";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cedar-iterations") && i + 1 < argc) {
      cedar_iterations = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) {
      out_dir = argv[++i];
    }
  }
  auto catalog = catalog::load_catalog(kSource / "catalog");
  if (!catalog) {
    std::cerr << catalog.error().to_string() << "\n";
    return 1;
  }
  std::vector<fs::path> all = {kSource / "rules" / "default"};
  for (const char* s :
       {"close-remote-access", "domestic-only-cn", "malaysia-tightens", "tier-caps"}) {
    all.push_back(kSource / "rules" / "scenarios" / s);
  }
  int status = compare(*catalog, {kSource / "rules" / "default"}, "default pack", cedar_iterations,
                       out_dir / "default");
  status |= compare(*catalog, all, "default pack + the four scenario packs", cedar_iterations,
                    out_dir / "all");
  return status;
}
