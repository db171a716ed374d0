// Runs the real `straits` binary: exit codes, tables, JSON, error messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Outcome straits(const std::string& args) {
  fs::path err_file = fs::temp_directory_path() / ("straits-cli-err-" + std::to_string(::getpid()));
  std::string command = std::string(STRAITS_BINARY) + " " + args + " 2>" + err_file.string();
  Outcome run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  run.err = err.str();
  fs::remove(err_file);
  return run;
}

const std::string kMinimal = std::string(STRAITS_TEST_DATA_DIR) + "/catalogs/minimal";

TEST(CliTest, VersionAndHelp) {
  Outcome version = straits("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("straits 0."), std::string::npos);
  Outcome help = straits("catalog show --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--json"), std::string::npos);
  EXPECT_NE(help.out.find("--catalog"), std::string::npos);
  Outcome top = straits("--help");
  EXPECT_NE(top.out.find("Exit codes"), std::string::npos);
}

TEST(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(straits("").exit_code, 2);
  EXPECT_EQ(straits("frobnicate").exit_code, 2);
  EXPECT_EQ(straits("catalog show planets").exit_code, 2);
  EXPECT_EQ(straits("catalog show chips --no-such-flag").exit_code, 2);
}

TEST(CliTest, ValidatesTheShippedCatalog) {
  Outcome run = straits("catalog validate");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("catalog OK: 15 chips, 249 countries"), std::string::npos) << run.out;
}

TEST(CliTest, BrokenCatalogExitsWithOneAndLocatesEveryError) {
  fs::path dir = fs::temp_directory_path() / ("straits-cli-broken-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(kMinimal, dir);
  std::ofstream(dir / "pools.yaml") << "pools:\n  - id: p\n    site: nowhere\n    nodes: -1\n";
  Outcome run = straits("catalog validate " + dir.string());
  fs::remove_all(dir);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("pools.yaml:4:12: pool 'p': 'nodes' must be greater than zero, got -1"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("pools.yaml:3:11: pool 'p': site 'nowhere' is not in sites.yaml"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("pools.yaml:2:5: pool 'p': missing required field 'chip'"),
            std::string::npos)
      << run.err;
}

TEST(CliTest, ShowsChipsAsATableWithDerivedFigures) {
  Outcome run = straits("catalog show chips");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::istringstream lines(run.out);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("ID", 0), 0u);
  EXPECT_NE(header.find("TPP"), std::string::npos);
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.rfind("h100-sxm ", 0) == 0) {
      found = true;
      EXPECT_NE(line.find("15832"), std::string::npos) << line;
      EXPECT_NE(line.find("19.45"), std::string::npos) << line;
      // Aligned: the TPP column ends where its header ends.
      EXPECT_EQ(line.size(), header.size()) << line;
    }
  }
  EXPECT_TRUE(found);
}

TEST(CliTest, ShowsJsonForScripts) {
  Outcome run = straits("catalog show chips --json --catalog " + kMinimal);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto chips = nlohmann::json::parse(run.out);
  ASSERT_TRUE(chips.is_array());
  ASSERT_EQ(chips.size(), 2u);
  EXPECT_EQ(chips[0]["id"], "h100-sxm");
  EXPECT_EQ(chips[0]["tpp"], 15832.0);
  EXPECT_EQ(chips[0]["performance_density"], 19.45);
  EXPECT_EQ(chips[0]["origin"], "US");

  Outcome orgs = straits("catalog show orgs --json --catalog " + kMinimal);
  auto list = nlohmann::json::parse(orgs.out);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2]["id"], "hanshan-sg");
  EXPECT_EQ(list[2]["ultimate_parent"], "hanshan");
  EXPECT_EQ(list[2]["parent_hq"], "CN");

  Outcome all = straits("catalog show --json --catalog " + kMinimal);
  auto everything = nlohmann::json::parse(all.out);
  for (const char* kind : {"chips", "countries", "groups", "operators", "sites", "pools", "orgs",
                           "licences", "datasets"}) {
    EXPECT_TRUE(everything.contains(kind)) << kind;
  }
  EXPECT_EQ(everything["pools"][0]["price_per_gpu_hour"]["amount"], "4.2008");
}

TEST(CliTest, ShowsEveryKindOfTheShippedCatalog) {
  for (const char* kind : {"chips", "countries", "groups", "operators", "sites", "pools", "orgs",
                           "licences", "datasets"}) {
    Outcome run = straits(std::string("catalog show ") + kind);
    EXPECT_EQ(run.exit_code, 0) << kind << ": " << run.err;
    EXPECT_GT(std::count(run.out.begin(), run.out.end(), '\n'), 2) << kind;
  }
  Outcome countries = straits("catalog show countries");
  EXPECT_NE(countries.out.find("CN    China"), std::string::npos);
}

TEST(CliTest, MissingCatalogFolderIsAnError) {
  Outcome run = straits("catalog show chips --catalog /nonexistent/catalog");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("/nonexistent/catalog"), std::string::npos) << run.err;
}

}  // namespace
