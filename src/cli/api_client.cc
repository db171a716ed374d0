#include "cli/api_client.h"

#include <httplib.h>
#include <cctype>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/context.h"
#include "core/strings.h"
#include "core/url.h"

namespace straits::cli {

using nlohmann::json;

void add_connection(CLI::App* command, Connection& c) {
  command->add_option("--url", c.url,
                      "Server URL (default $STRAITS_URL, else " + std::string(kDefaultUrl) + ")");
  command->add_option("--token", c.token, "API token (default $STRAITS_TOKEN)");
  command->add_flag("--json", c.json, "Print the server's JSON for scripts");
}

std::string encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) != 0 || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

ApiClient::ApiClient(Context& context, const Connection& c)
    : context_(context),
      url_(c.url.empty() ? env_or("STRAITS_URL", kDefaultUrl) : c.url),
      token_(c.token.empty() ? env_or("STRAITS_TOKEN", "") : c.token) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  // httplib's client takes scheme://host:port; a path after it is a prefix.
  if (auto parts = split_url(url_)) {
    origin_ = std::move(parts->origin);
    prefix_ = std::move(parts->path);
  } else {
    url_error_ = parts.error().message();
  }
}

namespace {

// The ids of the items at `list_path`, every page (at most 50 of them), as
// the server answers them; empty when it does not answer.
std::vector<std::string> listed_ids(httplib::Client& http, const std::string& list_path,
                                    const httplib::Headers& headers) {
  std::vector<std::string> ids;
  std::string after;
  for (int page = 0; page < 50; ++page) {
    const std::string query = after.empty() ? "" : "?after=" + after;
    httplib::Result result = http.Get(list_path + query, headers);
    if (!result || result->status != 200) break;
    const json answer = json::parse(result->body, nullptr, false);
    if (!answer.is_object()) break;
    for (const json& item : answer.value("items", json::array())) {
      if (item.is_object() && item.contains("id") && item["id"].is_string()) {
        ids.push_back(item["id"].get<std::string>());
      }
    }
    const json next = answer.value("next", json(nullptr));
    if (!next.is_string() || next.get<std::string>().empty()) break;
    after = httplib::detail::encode_query_param(next.get<std::string>());
  }
  return ids;
}

}  // namespace

void ApiClient::suggest_on_not_found(std::string list_path, std::string id) {
  suggest_list_ = std::move(list_path);
  suggest_id_ = std::move(id);
}

std::optional<json> ApiClient::get(const std::string& path) {
  return send("GET", path, nullptr);
}

std::optional<json> ApiClient::post(const std::string& path, const std::string& body) {
  return send("POST", path, &body);
}

std::optional<json> ApiClient::send(const char* method, const std::string& path,
                                    const std::string* body) {
  if (url_.rfind("http://", 0) != 0 && url_.rfind("https://", 0) != 0) {
    context_.fail("the server URL must start with http:// (got '" + url_ +
                  "'): set STRAITS_URL or --url");
    return std::nullopt;
  }
  if (!url_error_.empty()) {
    context_.fail(url_error_ + ": set STRAITS_URL or --url");
    return std::nullopt;
  }
  httplib::Client http(origin_);
  if (!http.is_valid()) {
    context_.fail("cannot use the server URL " + url_ +
                  " (https needs a straits built with TLS support)");
    return std::nullopt;
  }
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(120, 0);
  http.set_write_timeout(30, 0);
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  httplib::Result result = body == nullptr
                               ? http.Get(prefix_ + path, headers)
                               : http.Post(prefix_ + path, headers, *body, "application/json");
  if (!result) {
    context_.fail("cannot reach the straits server at " + url_ + " (" +
                  httplib::to_string(result.error()) +
                  "): is `straits serve` running there? Set STRAITS_URL or --url to its URL");
    return std::nullopt;
  }
  json answer = json::parse(result->body, nullptr, false);
  if (result->status >= 200 && result->status < 300) {
    if (answer.is_discarded()) {
      context_.fail(std::string(method) + " " + path + ": the server's answer is not JSON");
      return std::nullopt;
    }
    return answer;
  }
  std::string message, field;
  if (!answer.is_discarded() && answer.is_object() && answer.contains("error") &&
      answer["error"].is_object()) {
    const json& e = answer["error"];
    message = e.value("message", "");
    if (e.contains("field") && e["field"].is_string()) field = e["field"].get<std::string>();
  }
  if (message.empty()) {
    message = "HTTP " + std::to_string(result->status) + " from " + std::string(method) + " " +
              path + (result->body.empty() ? "" : ": " + result->body.substr(0, 200));
  }
  if (!field.empty()) message += " (field " + field + ")";
  if (result->status == 404 && !suggest_list_.empty()) {
    message += did_you_mean(suggest_id_, listed_ids(http, prefix_ + suggest_list_, headers));
  }
  if (result->status == 401) {
    message += token_.empty() ? "; no token given: set STRAITS_TOKEN (or --token) to your API token"
                              : "; set STRAITS_TOKEN (or --token) to a valid API token";
  }
  context_.fail(message);
  return std::nullopt;
}

}  // namespace straits::cli
