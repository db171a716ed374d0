#include "agent/internal/server_client.h"

#include <httplib.h>

#include "core/url.h"

namespace straits::agent::internal {
namespace {

// httplib's own names ("Connection") say little to an operator.
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "connection closed or timed out while reading the answer";
    case httplib::Error::Write: return "connection closed while sending";
    case httplib::Error::Canceled: return "cancelled";
    default: return httplib::to_string(error);
  }
}

}  // namespace

struct ServerClient::Impl {
  explicit Impl(const std::string& origin) : http(origin) {}
  httplib::Client http;
};

ServerClient::ServerClient(std::string url, std::string token, bool keep_alive)
    : url_(std::move(url)), token_(std::move(token)) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  // httplib's client takes scheme://host:port; a path after it is a prefix.
  std::string origin = url_;
  if (auto parts = split_url(url_)) {
    origin = std::move(parts->origin);
    prefix_ = std::move(parts->path);
  } else {
    url_error_ = parts.error().message();
  }
  impl_ = std::make_unique<Impl>(origin);
  impl_->http.set_connection_timeout(3, 0);
  impl_->http.set_write_timeout(10, 0);
  impl_->http.set_keep_alive(keep_alive);
}

ServerClient::~ServerClient() = default;

Result<HttpAnswer> ServerClient::get(const std::string& path, Duration timeout) {
  return send("GET", path, nullptr, timeout);
}

Result<HttpAnswer> ServerClient::post(const std::string& path, const std::string& body,
                                      Duration timeout) {
  return send("POST", path, &body, timeout);
}

void ServerClient::abort() {
  impl_->http.stop();
}

Result<HttpAnswer> ServerClient::send(const char* method, const std::string& path,
                                      const std::string* body, Duration timeout) {
  if (url_.rfind("http://", 0) != 0 && url_.rfind("https://", 0) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "the server URL must start with http:// (got '" + url_ + "')");
  }
  if (!url_error_.empty()) return Error(ErrorCode::kInvalidArgument, url_error_);
  if (!impl_->http.is_valid()) {
    return Error(
        ErrorCode::kInvalidArgument,
        "cannot use the server URL " + url_ + " (https needs a straits built with TLS support)");
  }
  const auto us = timeout.count_microseconds();
  impl_->http.set_read_timeout(static_cast<time_t>(us / 1'000'000),
                               static_cast<time_t>(us % 1'000'000));
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  httplib::Result result =
      body == nullptr ? impl_->http.Get(prefix_ + path, headers)
                      : impl_->http.Post(prefix_ + path, headers, *body, "application/json");
  if (!result) {
    return Error(ErrorCode::kUnavailable, "server " + url_ + ": no answer to " + method + " " +
                                              path + " (" + describe(result.error()) + ")");
  }
  return HttpAnswer{result->status, result->body};
}

}  // namespace straits::agent::internal
