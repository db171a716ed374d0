#include "sim/rule_change.h"

#include "core/file.h"
#include "sim/compare.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;

// A name that stays inside the folder it is written in.
Status check_name(const std::string& name, const std::string& what) {
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of("/\\") != std::string::npos || name.find('\0') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 what + " \"" + name + "\" is not a plain file name (no folders, not empty)");
  }
  return ok();
}

Status check_rule_set(const RuleSetFiles& set, const std::string& which) {
  if (set.packs.empty()) {
    return Error(ErrorCode::kInvalidArgument, which + " rule set has no pack");
  }
  for (const PackFiles& pack : set.packs) {
    STRAITS_TRY(check_name(pack.name, which + " pack"));
    for (const auto& [file, text] : pack.files) {
      STRAITS_TRY(check_name(file, which + " pack " + pack.name + ": file"));
    }
  }
  return ok();
}

Status write_files(const fs::path& dir, const std::map<std::string, std::string>& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kInternal, dir.string() + ": cannot create: " + ec.message());
  for (const auto& [name, text] : files) {
    STRAITS_TRY(write_file_atomically(dir / name, text,
                                      fs::perms::owner_read | fs::perms::owner_write |
                                          fs::perms::group_read | fs::perms::others_read));
  }
  return ok();
}

// One run's scenario over the written inputs.
Result<Scenario> scenario_of(const SimulationInputs& in, const RuleSetFiles& set,
                             const fs::path& inputs, const std::string& which) {
  Scenario s;
  s.name = which;
  s.file = inputs / (which + ".scenario");  // names the run; never read
  s.catalog_dir = fs::absolute(inputs / "catalog");
  for (const PackFiles& pack : set.packs) {
    const fs::path dir = fs::absolute(inputs / which / pack.name);
    STRAITS_TRY(write_files(dir, pack.files));
    s.rules.push_back(dir);
  }
  s.params = set.params;
  s.start = in.start;
  s.horizon = in.horizon;
  s.seed = in.seed;
  for (const sched::Lease& l : in.leases) {
    s.leases.push_back(l);
    s.lease_has_price.push_back(true);
  }
  s.workload_file = fs::absolute(inputs / "workload.jsonl");
  return s;
}

}  // namespace

Result<Comparison> simulate_rule_change(const SimulationInputs& in, const fs::path& out_dir,
                                        const CompareOptions& options) {
  for (const auto& [file, text] : in.catalog_files) STRAITS_TRY(check_name(file, "catalog file"));
  STRAITS_TRY(check_rule_set(in.in_force, "the in-force"));
  STRAITS_TRY(check_rule_set(in.proposed, "the proposed"));
  if (in.horizon <= Duration()) {
    return Error(ErrorCode::kInvalidArgument, "the simulated horizon must be positive");
  }
  const fs::path inputs = out_dir / "inputs";
  STRAITS_TRY(write_files(inputs / "catalog", in.catalog_files));
  STRAITS_TRY(write_files(inputs, {{"workload.jsonl", in.workload_jsonl}}));
  STRAITS_ASSIGN_OR_RETURN(Scenario baseline, scenario_of(in, in.in_force, inputs, "in-force"));
  STRAITS_ASSIGN_OR_RETURN(Scenario whatif, scenario_of(in, in.proposed, inputs, "proposed"));
  return compare_scenarios(baseline, whatif, out_dir, options);
}

}  // namespace straits::sim
