// The web console (issue 18): the files of web/ compiled into the binary
// (cmake/embed_web.cmake writes their table), and how `GET /` and
// `GET /console/<path>` are answered from them or, for development, from a
// folder on disk (`straits serve --web-dir DIR`).
//
// The console is served without authentication: the page holds no data, and
// every data call it makes carries the bearer token. Every answer carries
// the headers of kConsoleHeaders (a strict Content-Security-Policy: nothing
// from another host, no inline script or style).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/internal/http_server.h"

namespace straits::api::internal {

// One file of web/ as compiled in: its path below web/ ("js/core.js").
struct EmbeddedFile {
  const char* path;
  const unsigned char* bytes;
  std::size_t size;
};
// Every file of web/ at build time, sorted by path (generated).
const std::vector<EmbeddedFile>& embedded_console_files();

// The Content-Security-Policy of every console answer.
extern const char* const kConsoleCsp;
// The Content-Security-Policy of a what-if comparison page (sim compare's HTML
// has inline style and script, and is shown in a sandboxed frame or its own tab).
extern const char* const kReportCsp;

// The Content-Type a file is served with, from its extension
// (application/octet-stream for an unknown one).
std::string_view console_content_type(std::string_view path);

// Whether `path` (below web/, as the request names it, not decoded) is one a
// console file may have: segments of letters, digits, '-', '_' and '.', none
// empty or starting with '.' (no "..", no hidden files), no '%' escapes, no
// backslash, no NUL. Anything else is answered 404 before any lookup.
bool console_path_allowed(std::string_view path);

// The answer to a console request, or nullopt when `raw_path` (the request
// target's path, not decoded) is not the console's: "/" (index.html),
// "/console" and "/console/" (index.html too), "/console/<path>".
// Unknown files and refused paths are 404 with the console's headers; a
// method other than GET or HEAD is 405. `web_dir` set: files are read from
// that folder at each request (development), confined to it (a symbolic
// link out of it is 404); otherwise from the compiled-in table.
std::optional<HttpAnswer> console_answer(const std::string& method, std::string_view raw_path,
                                         const std::optional<std::filesystem::path>& web_dir);

}  // namespace straits::api::internal
