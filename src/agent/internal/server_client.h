// The agent's HTTP client of the server: one request at a time per client,
// bearer token, answers as (status, body). cpp-httplib stays in the .cc.
#pragma once

#include <memory>
#include <string>

#include "core/error.h"
#include "core/time.h"

namespace straits::agent::internal {

struct HttpAnswer {
  int status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

class ServerClient {
 public:
  // `url`: "http://HOST:PORT", optionally followed by a path prefix.
  // `keep_alive`: one connection for every request. The server serves a
  // kept-alive connection with one of its threads for as long as it is
  // open, so only the long-poll, which holds one anyway, keeps its own.
  ServerClient(std::string url, std::string token, bool keep_alive);
  ~ServerClient();
  ServerClient(const ServerClient&) = delete;
  ServerClient& operator=(const ServerClient&) = delete;

  // An answer of any status. Errors: kUnavailable when the server did not
  // answer ("server URL: no answer (Connection refused)"), kInvalidArgument
  // for a URL that is not http:// or not a URL at all (core/url.h).
  Result<HttpAnswer> get(const std::string& path, Duration timeout);
  Result<HttpAnswer> post(const std::string& path, const std::string& body, Duration timeout);

  // Aborts the request in flight, if any (its call returns an Error). The
  // one call that is safe from another thread.
  void abort();

  const std::string& url() const { return url_; }

 private:
  Result<HttpAnswer> send(const char* method, const std::string& path, const std::string* body,
                          Duration timeout);

  struct Impl;
  std::string url_, token_, prefix_;
  std::string url_error_;  // why url_ is not a server URL, "" when it is
  std::unique_ptr<Impl> impl_;
};

}  // namespace straits::agent::internal
