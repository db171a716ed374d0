#include "core/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

namespace straits {
namespace {

namespace fs = std::filesystem;

class WriteFileAtomicallyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("straits-core-file-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device()()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static unsigned mode_of(const fs::path& file) {
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0);
    return st.st_mode & 07777;
  }
  fs::path dir_;
};

TEST_F(WriteFileAtomicallyTest, ReplacesTheWholeFileWithExactlyTheMode) {
  const fs::path file = dir_ / "state.json";
  ASSERT_TRUE(write_file_atomically(file, "first, longer text\n",
                                    fs::perms::owner_read | fs::perms::owner_write));
  EXPECT_EQ(read(file), "first, longer text\n");
  EXPECT_EQ(mode_of(file), 0600u);
  const auto rwx = fs::perms::owner_all;
  ASSERT_TRUE(write_file_atomically(file, "second", rwx));
  EXPECT_EQ(read(file), "second");
  EXPECT_EQ(mode_of(file), 0700u);
  EXPECT_FALSE(fs::exists(dir_ / "state.json.tmp"));  // nothing left beside it
}

TEST_F(WriteFileAtomicallyTest, ALeftOverTemporaryFileNeitherWidensTheModeNorLeaks) {
  const fs::path file = dir_ / "script.sh";
  {
    std::ofstream old(dir_ / "script.sh.tmp");
    old << "a much longer text from a crash before the rename";
  }
  fs::permissions(dir_ / "script.sh.tmp", fs::perms::all);
  ASSERT_TRUE(write_file_atomically(file, "#!/bin/sh\n", fs::perms::owner_all));
  EXPECT_EQ(read(file), "#!/bin/sh\n");
  EXPECT_EQ(mode_of(file), 0700u);
}

TEST_F(WriteFileAtomicallyTest, AMissingFolderIsAnErrorNamingTheFile) {
  const fs::path file = dir_ / "no" / "such" / "file";
  const Status written = write_file_atomically(file, "x", fs::perms::owner_read);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::kInternal);
  EXPECT_NE(written.error().message().find(file.string() + ".tmp"), std::string::npos)
      << written.error().message();
  EXPECT_FALSE(fs::exists(file));
}

}  // namespace
}  // namespace straits
