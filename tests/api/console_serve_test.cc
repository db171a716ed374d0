// The web console served by the binary (issue 18): `GET /` answers web/index.html and
// `GET /console/<path>` every file of web/, byte for byte, compiled in; each with the
// Content-Security-Policy and the other headers of the contract; HEAD too; and
// `--web-dir DIR` (ServerOptions::web_dir) serves a folder read at each request instead.
// API answers carry nosniff and no-store.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/server_fixture.h"

namespace straits::api {
namespace {

namespace fs = std::filesystem;
using testing_util::TestServer;

const char* const kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Got {
  int status = 0;
  httplib::Headers headers;
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Got fetch(int port, const std::string& path, bool head = false) {
  httplib::Client client("127.0.0.1", port);
  auto r = head ? client.Head(path) : client.Get(path);
  if (!r) return {};
  return {r->status, r->headers, r->body};
}

void expect_console_headers(const Got& got, const std::string& what) {
  EXPECT_EQ(got.header("Content-Security-Policy"), kCsp) << what;
  EXPECT_EQ(got.header("X-Content-Type-Options"), "nosniff") << what;
  EXPECT_EQ(got.header("Referrer-Policy"), "no-referrer") << what;
  EXPECT_EQ(got.header("Cache-Control"), "no-cache") << what;
}

// The files of web/ in the source tree, as paths below it.
std::vector<std::string> web_files() {
  std::vector<std::string> out;
  const fs::path web = fs::path(STRAITS_SOURCE_DIR) / "web";
  for (const auto& entry : fs::recursive_directory_iterator(web)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = fs::relative(entry.path(), web).generic_string();
    if (relative.find("/.") != std::string::npos || relative[0] == '.') continue;
    out.push_back(relative);
  }
  return out;
}

class ConsoleServeTest : public ::testing::Test {
 protected:
  TestServer server_;
};

TEST_F(ConsoleServeTest, TheRootIsTheConsolePageWithItsPolicy) {
  server_.start();
  const Got root = fetch(server_.port(), "/");
  ASSERT_EQ(root.status, 200);
  EXPECT_EQ(root.body, read_file(fs::path(STRAITS_SOURCE_DIR) / "web" / "index.html"));
  EXPECT_EQ(root.header("Content-Type"), "text/html; charset=utf-8");
  expect_console_headers(root, "/");
  // No token needed, none set: no cookie, and nothing of the world in the page.
  EXPECT_EQ(root.header("Set-Cookie"), "");
  EXPECT_EQ(root.body.find("hanshan"), std::string::npos);
  // /console/ is the same page.
  EXPECT_EQ(fetch(server_.port(), "/console/").body, root.body);
  // HEAD: the same headers and length, no body.
  const Got head = fetch(server_.port(), "/", true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(root.body.size()));
  expect_console_headers(head, "HEAD /");
}

TEST_F(ConsoleServeTest, EveryWebFileIsServedAsItIs) {
  server_.start();
  const std::vector<std::string> files = web_files();
  ASSERT_FALSE(files.empty());
  for (const std::string& file : files) {
    const Got got = fetch(server_.port(), "/console/" + file);
    ASSERT_EQ(got.status, 200) << file;
    EXPECT_EQ(got.body, read_file(fs::path(STRAITS_SOURCE_DIR) / "web" / file)) << file;
    expect_console_headers(got, file);
    const std::string type = got.header("Content-Type");
    const std::string expected = file.ends_with(".js")     ? "text/javascript; charset=utf-8"
                                 : file.ends_with(".css")  ? "text/css; charset=utf-8"
                                 : file.ends_with(".html") ? "text/html; charset=utf-8"
                                                           : type;
    EXPECT_EQ(type, expected) << file;
  }
  const Got missing = fetch(server_.port(), "/console/no-such-file.js");
  EXPECT_EQ(missing.status, 404);
  expect_console_headers(missing, "a missing file");
}

TEST_F(ConsoleServeTest, ApiAnswersAreNeitherSniffedNorCached) {
  server_.start();
  for (const char* path : {"/healthz", "/v1/whoami", "/v1/no-such-route"}) {
    const Got got = fetch(server_.port(), path);
    EXPECT_NE(got.status, 0) << path;
    EXPECT_EQ(got.header("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(got.header("Cache-Control"), "no-store") << path;
    EXPECT_EQ(got.header("Content-Type").rfind("application/json", 0), 0u) << path;
  }
}

TEST_F(ConsoleServeTest, AWebDirIsServedInsteadReadAtEachRequest) {
  const fs::path web = server_.dir() / "web";
  const fs::path outside = server_.dir() / "secret.txt";
  fs::create_directories(web / "js");
  std::ofstream(web / "index.html") << "<!doctype html><title>dev</title>";
  std::ofstream(web / "js" / "app.js") << "export const a = 1;";
  std::ofstream(outside) << "not for the console";
  fs::create_symlink(outside, web / "js" / "link.js");
  server_.options().web_dir = web;
  server_.start();

  Got root = fetch(server_.port(), "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "<!doctype html><title>dev</title>");
  expect_console_headers(root, "--web-dir /");
  EXPECT_EQ(fetch(server_.port(), "/console/js/app.js").body, "export const a = 1;");
  // An edit shows at the next request, no restart.
  std::ofstream(web / "js" / "app.js") << "export const a = 2;";
  EXPECT_EQ(fetch(server_.port(), "/console/js/app.js").body, "export const a = 2;");
  // Confined to the folder: a link out of it is not followed; the compiled-in files are not
  // served beside it.
  const Got link = fetch(server_.port(), "/console/js/link.js");
  EXPECT_EQ(link.status, 404);
  EXPECT_EQ(link.body.find("not for the console"), std::string::npos);
  EXPECT_EQ(fetch(server_.port(), "/console/js/missing.js").status, 404);
}

}  // namespace
}  // namespace straits::api
