#include "core/url.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace straits {
namespace {

bool all_of(std::string_view text, int (*pred)(int)) {
  return std::all_of(text.begin(), text.end(),
                     [pred](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

bool is_ipv6_char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

int default_port(std::string_view scheme) {
  if (scheme == "http") return 80;
  if (scheme == "https") return 443;
  return 0;
}

// Splits "host", "host:port", "[v6]" or "[v6]:port" into url.host and the
// port's text (nullopt when there is no ':'); "" when it is fine, else why not.
std::string split_authority(std::string_view authority, Url& url,
                            std::optional<std::string_view>& port) {
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "'[' without ']'";
    url.host = std::string(authority.substr(1, close - 1));
    if (url.host.empty() || !std::all_of(url.host.begin(), url.host.end(), is_ipv6_char)) {
      return "'" + url.host + "' is not an IPv6 address";
    }
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return "text after ']'";
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (url.host.empty()) return "no host";
    if (url.host.find_first_of("[] \t") != std::string::npos) {
      return "'" + url.host + "' is not a host name";
    }
    if (colon != std::string_view::npos) rest = authority.substr(colon);
  }
  if (!rest.empty()) port = rest.substr(1);
  return "";
}

}  // namespace

Result<Url> split_url(std::string_view text) {
  const std::string written(text);
  const auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "bad URL '" + written + "': " + why);
  };
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad("no scheme:// at its start");
  Url url;
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme.empty() || !all_of(url.scheme, std::isalpha)) {
    return bad("the scheme is not letters");
  }
  if (text.find_first_of("?#@") != std::string_view::npos) {
    return bad("a query, a fragment or a user name ('?', '#', '@') is not allowed");
  }
  const auto authority_start = scheme_end + 3;
  const auto path_start = text.find('/', authority_start);
  url.origin = std::string(text.substr(0, path_start));
  if (path_start != std::string_view::npos) url.path = std::string(text.substr(path_start));
  std::optional<std::string_view> port;
  const std::string why =
      split_authority(text.substr(authority_start, path_start - authority_start), url, port);
  if (!why.empty()) return bad(why);
  if (!port) {
    url.port = default_port(url.scheme);
    return url;
  }
  if (port->empty() || port->size() > 5 || !all_of(*port, std::isdigit)) {
    return bad("port '" + std::string(*port) + "' is not a number");
  }
  url.port = std::stoi(std::string(*port));
  if (url.port < 1 || url.port > 65535)
    return bad("port " + std::string(*port) + " is not 1-65535");
  return url;
}

}  // namespace straits
