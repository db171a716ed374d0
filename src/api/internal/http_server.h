// The transport of the control plane: an event-driven HTTP/1.1 server (Boost.Beast over
// Asio, optionally TLS with OpenSSL) in front of the dispatcher. Why this design and this
// library: docs/architecture.md ("The front door").
//
// - A few I/O threads run the event loop: an idle or slow connection costs a socket and a
//   small buffer, never a thread.
// - Every request has a deadline for its headers and body as a whole (request_timeout);
//   a kept-alive connection waiting for its next request is closed after idle_timeout;
//   answers are written under a deadline too.
// - Bodies are capped (max_body) whatever the transfer encoding, before anything else
//   looks at the request (authentication included): 413 naming the limit, and the
//   connection is closed without reading the rest.
// - At most max_connections are open; past it a new connection is closed at once.
// - A token bucket per bearer token (keyed by a keyed hash of the Authorization header: no
//   secret is kept) or, without a token, per client address: 429 with Retry-After.
// - Handlers run on a worker pool (`worker_threads`), where changes wait for their durable
//   commit, or on the I/O thread when `on_io_thread` says so (quick reads). A handler may park its
//   request (a long-poll): it is run again, on the pool, when the change generation moves, or at
//   the time it asked for, and holds no thread meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace straits::api::internal {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::string authorization;
  std::string body;
  std::string peer;  // the client's address
  std::chrono::steady_clock::time_point arrived;
};

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, Retry-After
  // Set: not an answer yet; run the handler again (same request) once the change generation
  // is not `generation` any more, or at `until`, whichever comes first.
  struct Park {
    std::chrono::steady_clock::time_point until;
    std::uint64_t generation = 0;
  };
  std::optional<Park> park;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int io_threads = 2;
  int worker_threads = 32;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 64 << 10;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{5'000};
  std::size_t max_connections = 10'000;
  double rate_limit = 0;                    // requests per second per token or address; 0: none
  double rate_burst = 0;                    // bucket size; 0: max(rate_limit, 1)
  std::filesystem::path tls_cert, tls_key;  // both set: HTTPS only
  // Whether a request's handler runs on the I/O thread that read it (true: no hand-off to the
  // pool and back) or on the worker pool. Unset: the pool. See server.cc for what decided.
  std::function<bool(const HttpRequest&)> on_io_thread;
};

class HttpServer {
 public:
  using Handler = std::function<HttpAnswer(const HttpRequest&)>;
  // `generation`: the world's change generation (parked requests compare against it).
  HttpServer(HttpServerOptions options, Handler handler, std::function<std::uint64_t()> generation);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; loads the TLS certificate and key; raises RLIMIT_NOFILE's soft limit
  // to its hard limit (each connection is a descriptor).
  Status listen();
  int port() const;
  // Serves until stop(): then stops accepting, closes idle connections, answers parked
  // requests (their handlers see the server stopping), finishes the requests in flight and
  // returns.
  void run();
  void stop();
  // The world changed: parked requests are looked at again. Cheap; any thread.
  void changed();

  struct Impl;  // in the .cc, with the connections that use it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace straits::api::internal
