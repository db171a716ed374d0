// The table of realistic cases in tests/data/policy/cases.yaml, each naming
// the rule it exercises, run against the shipped catalog and rule packs: the
// decision, the exact set of rules that applied, and the lifting licence.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "catalog/load.h"
#include "policy/engine.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;
const fs::path kSource(STRAITS_SOURCE_DIR);

const catalog::Catalog& shipped() {
  static const catalog::Catalog c = *catalog::load_catalog(kSource / "catalog");
  return c;
}

struct Case {
  std::string name;
  YAML::Node node;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> load_cases() {
  YAML::Node root =
      YAML::LoadFile((fs::path(STRAITS_TEST_DATA_DIR) / "policy" / "cases.yaml").string());
  std::vector<Case> cases;
  for (const auto& c : root["cases"]) cases.push_back(Case{c["name"].as<std::string>(), c});
  return cases;
}

std::string str(const YAML::Node& n, const char* key, const std::string& fallback = "") {
  return n[key] && !n[key].IsNull() ? n[key].as<std::string>() : fallback;
}

Request request_of(const YAML::Node& n) {
  std::string action = n["action"].as<std::string>();
  if (action == "ship") {
    ShipRequest r{ChipId(str(n, "chip")), SiteId(str(n, "site")), {}, {}, str(n, "by"), 1};
    if (n["source_site"]) r.source_site = SiteId(str(n, "source_site"));
    if (n["pool"]) r.pool = PoolId(str(n, "pool"));
    if (n["quantity"]) r.quantity = n["quantity"].as<int>();
    return r;
  }
  if (action == "lease") {
    LeaseRequest r{OrgId(str(n, "org")), PoolId(str(n, "pool")), {}, {}, {}};
    if (n["gpus"]) r.gpus = n["gpus"].as<int>();
    if (n["country_tpp"]) r.country_tpp = n["country_tpp"].as<double>();
    if (n["org_tpp"]) r.org_tpp = n["org_tpp"].as<double>();
    return r;
  }
  if (action == "run") {
    JobSpec job;
    const YAML::Node& j = n["job"];
    if (j) {
      if (j["gpus"]) job.gpus = j["gpus"].as<int>();
      if (j["training_flops"]) job.training_flops = j["training_flops"].as<double>();
      if (j["purpose"]) job.purpose = j["purpose"].as<std::string>();
      if (j["datasets"]) {
        for (const auto& d : j["datasets"]) job.datasets.push_back(DatasetId(d.as<std::string>()));
      }
    }
    return RunRequest{OrgId(str(n, "org")), PoolId(str(n, "pool")), job};
  }
  return TransferRequest{DatasetId(str(n, "dataset")), SiteId(str(n, "site")), str(n, "by")};
}

class PolicyCasesTest : public testing::TestWithParam<Case> {};

TEST_P(PolicyCasesTest, DecidesAsTheRuleSays) {
  const YAML::Node& n = GetParam().node;
  std::vector<fs::path> packs;
  if (n["packs"]) {
    for (const auto& p : n["packs"]) {
      std::string name = p.as<std::string>();
      packs.push_back(name == "default" ? kSource / "rules" / "default"
                                        : kSource / "rules" / "scenarios" / name);
    }
  } else {
    packs.push_back(kSource / "rules" / "default");
  }
  ParamOverrides params;
  if (n["params"]) {
    for (const auto& kv : n["params"])
      params[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  auto engine = Engine::load(shipped(), packs, params);
  ASSERT_TRUE(engine) << engine.error().to_string();
  auto at = parse_instant(n["at"].as<std::string>());
  ASSERT_TRUE(at);
  auto decision = engine->decide(request_of(n), *at);
  ASSERT_TRUE(decision) << decision.error().to_string();

  std::set<std::string> matched;
  for (const auto& m : decision->rules) matched.insert(m.id.str());
  std::set<std::string> expected_rules;
  if (n["matched"]) {
    for (const auto& id : n["matched"]) expected_rules.insert(id.as<std::string>());
  }
  std::string explanation;
  for (const auto& m : decision->rules) {
    explanation += "\n  " + m.id.str() + " " + std::string(to_string(m.effect)) +
                   (m.lifted_by ? " lifted by " + m.lifted_by->str() : "");
  }
  EXPECT_EQ(std::string(to_string(decision->outcome)), n["expect"].as<std::string>())
      << explanation;
  EXPECT_EQ(matched, expected_rules) << explanation;
  std::string rule = str(n, "rule");
  if (!rule.empty() && !expected_rules.empty()) {
    EXPECT_TRUE(matched.count(rule)) << "the case's rule " << rule << " did not apply";
  }
  std::string licence = str(n, "licence");
  if (licence.empty()) {
    EXPECT_TRUE(decision->licences.empty()) << decision->licences.front();
  } else {
    ASSERT_FALSE(decision->licences.empty());
    EXPECT_EQ(decision->licences.front().str(), licence);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PolicyCasesTest, testing::ValuesIn(load_cases()),
                         [](const auto& param_info) {
                           std::string n;
                           for (char c : param_info.param.name) {
                             n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return n + "_" + std::to_string(param_info.index);
                         });

}  // namespace
}  // namespace straits::policy
