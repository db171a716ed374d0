#include "core/strings.h"

#include <gtest/gtest.h>

#include <vector>

namespace straits {
namespace {

TEST(EditDistanceTest, CountsEdits) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("gpu_per_node", "gpus_per_node"), 1u);
}

TEST(DidYouMeanTest, SuggestsOnlyCloseWords) {
  std::vector<std::string> fields = {"gpus_per_node", "nodes", "price_per_gpu_hour", "site"};
  EXPECT_EQ(did_you_mean("gpu_per_node", fields), " (did you mean 'gpus_per_node'?)");
  EXPECT_EQ(did_you_mean("node", fields), " (did you mean 'nodes'?)");
  EXPECT_EQ(did_you_mean("colour", fields), "");
  // Ties go to the earliest candidate, whatever else is around.
  std::vector<std::string> tied = {"ab", "ba"};
  EXPECT_EQ(closest_match("aa", tied), "ab");
}

TEST(ShellQuoteTest, MakesOneWordThatTheShellDoesNotExpand) {
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("plain"), "'plain'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$HOME; rm -rf / `x` \"\\"), "'$HOME; rm -rf / `x` \"\\'");
}

}  // namespace
}  // namespace straits
