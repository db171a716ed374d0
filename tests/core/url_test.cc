#include "core/url.h"

#include <gtest/gtest.h>

namespace straits {
namespace {

TEST(SplitUrlTest, SplitsSchemeHostPortAndPath) {
  auto url = split_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "");
  EXPECT_EQ(url->origin, "http://127.0.0.1:8080");

  url = split_url("https://straits.example.org/control/plane//");
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "straits.example.org");
  EXPECT_EQ(url->port, 443);  // the scheme's
  EXPECT_EQ(url->path, "/control/plane");
  EXPECT_EQ(url->origin, "https://straits.example.org");

  url = split_url("http://localhost/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "");
  EXPECT_EQ(url->origin, "http://localhost");
}

TEST(SplitUrlTest, KeepsIpv6BracketsInTheOriginOnly) {
  auto url = split_url("http://[::1]:9000/v");
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 9000);
  EXPECT_EQ(url->path, "/v");
  EXPECT_EQ(url->origin, "http://[::1]:9000");

  url = split_url("https://[fe80::1:ab]");
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_EQ(url->host, "fe80::1:ab");
  EXPECT_EQ(url->port, 443);
}

TEST(SplitUrlTest, RefusesWhatIsNotAServerUrl) {
  for (const char* text :
       {"", "127.0.0.1:8080", "://h", "ht tp://h", "http://", "http://:8080",
        "http://h:", "http://h:port", "http://h:0", "http://h:65536", "http://h:123456",
        "http://[::1", "http://[::1]x", "http://[zz::1]", "http://[]:80", "http://h?x=1",
        "http://h#top", "http://user@h", "http://a b"}) {
    const auto url = split_url(text);
    EXPECT_FALSE(url) << "'" << text << "' accepted as host '" << url->host << "'";
    if (!url) {
      EXPECT_EQ(url.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(url.error().message().find("bad URL"), std::string::npos) << url.error().message();
    }
  }
  EXPECT_TRUE(split_url("http://h:65535"));
  EXPECT_TRUE(split_url("http://h:1"));
}

}  // namespace
}  // namespace straits
