// Golden tests: each folder under tests/data/policy/broken/ is a rule pack
// with mistakes, checked against tests/data/catalogs/minimal; expected.txt
// holds the exact diagnostics. STRAITS_UPDATE_GOLDEN=1 rewrites them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "catalog/load.h"
#include "policy/engine.h"
#include "policy/minimal_catalog.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;
const fs::path kBroken = fs::path(STRAITS_TEST_DATA_DIR) / "policy" / "broken";

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kBroken)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

const catalog::Catalog& minimal() {
  return testing_util::minimal_catalog();
}

class BrokenPackTest : public testing::TestWithParam<std::string> {};

TEST_P(BrokenPackTest, ReportsEveryErrorWithItsPlace) {
  fs::path dir = kBroken / GetParam();
  auto engine = Engine::load(minimal(), {dir});
  ASSERT_FALSE(engine) << GetParam() << ": a pack with errors must not load";
  EXPECT_EQ(engine.error().code(), ErrorCode::kInvalidArgument);
  std::string got;
  const std::string prefix = dir.string() + "/";
  for (const Diagnostic& d : engine.error().diagnostics()) {
    std::string line = to_string(d);
    for (auto at = line.find(prefix); at != std::string::npos; at = line.find(prefix)) {
      line.erase(at, prefix.size());
    }
    got += line + "\n";
  }
  fs::path expected = dir / "expected.txt";
  if (std::getenv("STRAITS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected) << got;
    GTEST_SKIP() << "wrote " << expected;
  }
  std::ifstream in(expected);
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str());
}

INSTANTIATE_TEST_SUITE_P(Golden, BrokenPackTest, testing::ValuesIn(case_names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(BrokenPackTest, MissingFolderIsNotFound) {
  auto engine = Engine::load(minimal(), {kBroken / "no-such-pack"});
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace straits::policy
