// Golden tests: each folder under tests/data/catalogs/broken/ holds files
// laid over tests/data/catalogs/minimal/ and expected.txt, the exact
// diagnostics (file:line:column: message) the loader must report.
// Regenerate with STRAITS_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "catalog/load.h"

namespace straits::catalog {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(STRAITS_TEST_DATA_DIR) / "catalogs";

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kData / "broken")) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A fresh folder: the minimal catalog with the case's files laid over it.
fs::path lay_out(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("straits-broken-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(kData / "minimal")) {
    fs::copy_file(entry.path(), dir / entry.path().filename());
  }
  for (const auto& entry : fs::directory_iterator(kData / "broken" / name)) {
    if (entry.path().filename() == "expected.txt") continue;
    fs::copy_file(entry.path(), dir / entry.path().filename(),
                  fs::copy_options::overwrite_existing);
  }
  return dir;
}

class BrokenCatalogTest : public testing::TestWithParam<std::string> {};

TEST_P(BrokenCatalogTest, ReportsEveryProblemWithItsPlace) {
  const std::string& name = GetParam();
  fs::path dir = lay_out(name);
  auto loaded = load_catalog(dir);
  ASSERT_FALSE(loaded) << name << ": a broken catalog must not load";
  EXPECT_EQ(loaded.error().code(), ErrorCode::kInvalidArgument);

  std::string got;
  const std::string prefix = dir.string() + "/";
  for (const Diagnostic& d : loaded.error().diagnostics()) {
    std::string line = to_string(d);
    if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
    got += line + "\n";
  }
  fs::remove_all(dir);

  fs::path expected_path = kData / "broken" / name / "expected.txt";
  if (std::getenv("STRAITS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected_path) << got;
    GTEST_SKIP() << "wrote " << expected_path;
  }
  ASSERT_TRUE(fs::exists(expected_path)) << expected_path;
  EXPECT_EQ(got, read_text(expected_path)) << name;
  // The summary counts what it lists.
  std::size_t n = loaded.error().diagnostics().size();
  EXPECT_NE(loaded.error().message().find(std::to_string(n) + (n == 1 ? " error" : " errors")),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Golden, BrokenCatalogTest, testing::ValuesIn(case_names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(BrokenCatalogTest, MinimalCatalogIsValid) {
  auto loaded = load_catalog(kData / "minimal");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
}

TEST(BrokenCatalogTest, MissingFolderIsNotFound) {
  auto loaded = load_catalog(kData / "no-such-folder");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(loaded.error().message().find("no-such-folder"), std::string::npos);
}

TEST(BrokenCatalogTest, RequiredFilesMustBeThere) {
  fs::path dir = fs::temp_directory_path() / ("straits-empty-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto loaded = load_catalog(dir);
  fs::remove_all(dir);
  ASSERT_FALSE(loaded);
  ASSERT_EQ(loaded.error().diagnostics().size(), 2u);
  EXPECT_NE(to_string(loaded.error().diagnostics()[0]).find("chips.yaml: missing"),
            std::string::npos);
}

}  // namespace
}  // namespace straits::catalog
