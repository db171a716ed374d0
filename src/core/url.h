// The parts of a server URL (scheme://host[:port][/path]), one parser for
// every client of the control plane (the CLI's clients, the site agent).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace straits {

struct Url {
  std::string scheme;  // as written: "http", "https", ...
  std::string host;    // a name or an address; an IPv6 address without its brackets
  int port = 0;        // as written, else the scheme's (http 80, https 443), else 0
  std::string path;    // "" or from the first '/' on, trailing '/' removed ("/prefix")
  std::string origin;  // scheme://host[:port] as written (brackets kept)
};

// Splits `text`. Trailing slashes are dropped first ("http://h/" is "http://h").
// Errors (InvalidArgument, naming what is wrong): no "scheme://", a scheme
// that is not letters, an empty host, an unclosed '[' or an IPv6 address with
// other than hex digits, ':' and '.', a port that is not 1-65535, a query or
// fragment ('?', '#'), user information ('@').
Result<Url> split_url(std::string_view text);

}  // namespace straits
