#include "api/internal/console_files.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace straits::api::internal {

const char* const kConsoleCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

// The comparison page is sim compare's self-contained HTML: inline style and
// script, SVG charts, nothing fetched. It may be framed by the console (same
// origin) and runs sandboxed: no same-origin rights, so its script cannot
// read the console's sessionStorage (the token) nor call the API.
const char* const kReportCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox "
    "allow-scripts";

namespace {

namespace fs = std::filesystem;

struct Type {
  std::string_view extension, type;
};
constexpr Type kTypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
    {".webmanifest", "application/manifest+json"},
};

bool allowed_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

void add_console_headers(HttpAnswer& a) {
  a.headers.emplace_back("Content-Security-Policy", kConsoleCsp);
  a.headers.emplace_back("X-Content-Type-Options", "nosniff");
  a.headers.emplace_back("Referrer-Policy", "no-referrer");
  a.headers.emplace_back("Cache-Control", "no-cache");
  a.headers.emplace_back("X-Frame-Options", "DENY");
}

// A plain-text refusal: nothing of the request is echoed back.
HttpAnswer refusal(int status, std::string text) {
  HttpAnswer a;
  a.status = status;
  a.content_type = "text/plain; charset=utf-8";
  a.body = std::move(text);
  add_console_headers(a);
  if (status == 405) a.headers.emplace_back("Allow", "GET, HEAD");
  return a;
}

// A regular file inside `dir` (after symbolic links are followed), read whole.
std::optional<std::string> read_confined(const fs::path& dir, std::string_view path) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) return std::nullopt;
  const fs::path file = fs::canonical(root / fs::path(std::string(path)), ec);
  if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
  // Inside the root: its path begins with every element of the root's.
  const auto mismatch = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (mismatch.first != root.end()) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

std::optional<std::string> embedded(std::string_view path) {
  const auto& files = embedded_console_files();
  auto it = std::lower_bound(
      files.begin(), files.end(), path,
      [](const EmbeddedFile& f, std::string_view p) { return std::string_view(f.path) < p; });
  if (it == files.end() || std::string_view(it->path) != path) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(it->bytes), it->size);
}

}  // namespace

std::string_view console_content_type(std::string_view path) {
  for (const Type& t : kTypes) {
    if (path.size() > t.extension.size() && path.ends_with(t.extension)) return t.type;
  }
  return "application/octet-stream";
}

bool console_path_allowed(std::string_view path) {
  if (path.empty() || path.size() > 256) return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment[0] == '.' ||
        !std::all_of(segment.begin(), segment.end(), allowed_char)) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::optional<HttpAnswer> console_answer(const std::string& method, std::string_view raw_path,
                                         const std::optional<fs::path>& web_dir) {
  std::string_view path;
  if (raw_path == "/" || raw_path == "/console" || raw_path == "/console/") {
    path = "index.html";
  } else if (raw_path.starts_with("/console/")) {
    path = raw_path.substr(9);
  } else {
    return std::nullopt;
  }
  if (method != "GET" && method != "HEAD") return refusal(405, "the console is read with GET\n");
  if (!console_path_allowed(path)) return refusal(404, "no such console file\n");
  std::optional<std::string> bytes = web_dir ? read_confined(*web_dir, path) : embedded(path);
  if (!bytes) return refusal(404, "no such console file\n");
  HttpAnswer a;
  a.content_type = std::string(console_content_type(path));
  a.body = std::move(*bytes);
  add_console_headers(a);
  return a;
}

}  // namespace straits::api::internal
