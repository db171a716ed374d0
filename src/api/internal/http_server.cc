#include "api/internal/http_server.h"

#include <sodium.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace straits::api::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

std::string error_json(const std::string& code, const std::string& message,
                       const std::string& field = "") {
  // The same shape as the dispatcher's errors (http.cc), written by hand: the transport
  // does not parse JSON. The texts here hold no quote or backslash.
  std::string out = "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message + "\"";
  out += field.empty() ? ",\"field\":null" : ",\"field\":\"" + field + "\"";
  return out + "}}";
}

// A connection: what it waits for decides what stop() does to it.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // stop(): a connection waiting for (or in the middle of) a request is closed; one whose
  // request is being answered finishes it first.
  virtual void close_if_reading() = 0;
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  std::function<std::uint64_t()> generation;

  // Before the loop: a connection still queued on it when it is destroyed unregisters here.
  std::atomic<std::size_t> open{0};
  std::mutex sessions_mutex;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;

  asio::io_context ioc{std::max(1, options.io_threads)};
  // Its own strand: stop() closes it from another thread.
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  std::optional<asio::ssl::context> tls;
  std::optional<asio::thread_pool> pool;
  // Keeps the loop running while nothing is pending (before the first connection).
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::atomic<bool> stopping{false};
  int bound_port = 0;

  // Rate limits: token buckets keyed by SipHash under a key drawn at start, of the
  // Authorization header (so the map holds no secret) or of the client's address.
  struct Bucket {
    double tokens = 0;
    SteadyClock::time_point at;
  };
  std::mutex rate_mutex;
  std::unordered_map<std::uint64_t, Bucket> buckets;
  unsigned char rate_key[crypto_shorthash_KEYBYTES] = {};

  // Parked requests (long-polls), run again by the parker thread's resume().
  struct Parked {
    SteadyClock::time_point until;
    std::uint64_t generation = 0;
    std::function<void()> resume;
  };
  std::mutex park_mutex;
  std::condition_variable park_cv;
  std::vector<Parked> parked;
  bool park_stop = false;
  std::thread parker;

  Impl(HttpServerOptions o, Handler h, std::function<std::uint64_t()> g)
      : options(std::move(o)), handler(std::move(h)), generation(std::move(g)) {
    crypto_shorthash_keygen(rate_key);
  }

  // 0 when the request may go on; else the seconds to wait for a token.
  int take_token(const std::string& authorization, const std::string& peer) {
    if (options.rate_limit <= 0) return 0;
    const std::string key = authorization.empty() ? "a:" + peer : "t:" + authorization;
    std::uint64_t hash = 0;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&hash),
                     reinterpret_cast<const unsigned char*>(key.data()), key.size(), rate_key);
    const double burst =
        options.rate_burst > 0 ? options.rate_burst : std::max(options.rate_limit, 1.0);
    const auto now = SteadyClock::now();
    std::lock_guard lock(rate_mutex);
    if (buckets.size() > 100'000) {
      // Forget buckets that are full again: they would start full anyway.
      for (auto it = buckets.begin(); it != buckets.end();) {
        const double seconds = std::chrono::duration<double>(now - it->second.at).count();
        it = it->second.tokens + seconds * options.rate_limit >= burst ? buckets.erase(it)
                                                                       : std::next(it);
      }
    }
    auto [it, fresh] = buckets.try_emplace(hash, Bucket{burst, now});
    Bucket& b = it->second;
    if (!fresh) {
      const double seconds = std::chrono::duration<double>(now - b.at).count();
      b.tokens = std::min(burst, b.tokens + seconds * options.rate_limit);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / options.rate_limit)));
  }

  void park(Parked p) {
    {
      std::lock_guard lock(park_mutex);
      parked.push_back(std::move(p));
    }
    park_cv.notify_one();
  }

  void parker_loop() {
    std::unique_lock lock(park_mutex);
    for (;;) {
      const std::uint64_t now_generation = generation();
      const auto now = SteadyClock::now();
      std::vector<std::function<void()>> due;
      auto next = SteadyClock::time_point::max();
      for (auto it = parked.begin(); it != parked.end();) {
        if (park_stop || stopping || it->generation != now_generation || it->until <= now) {
          due.push_back(std::move(it->resume));
          it = parked.erase(it);
        } else {
          next = std::min(next, it->until);
          ++it;
        }
      }
      if (!due.empty()) {
        lock.unlock();
        for (auto& resume : due) resume();
        lock.lock();
        continue;
      }
      if (park_stop) return;
      if (next == SteadyClock::time_point::max()) {
        park_cv.wait(lock);
      } else {
        park_cv.wait_until(lock, next);
      }
    }
  }

  void do_accept();
  void on_accept(tcp::socket socket);
};

namespace {

template <class Stream>
class Session : public SessionBase {
 public:
  template <class... Args>
  Session(HttpServer::Impl& server, std::string peer, Args&&... args)
      : s_(server), stream_(std::forward<Args>(args)...), peer_(std::move(peer)) {
    ++s_.open;
  }
  ~Session() override {
    {
      std::lock_guard lock(s_.sessions_mutex);
      s_.sessions.erase(this);
    }
    --s_.open;
  }

  void start() {
    {
      std::lock_guard lock(s_.sessions_mutex);
      s_.sessions[this] = weak_from_this();
    }
    asio::dispatch(stream_.get_executor(), [self = shared()] { self->begin(); });
  }

  void close_if_reading() override {
    asio::post(stream_.get_executor(), [self = shared()] {
      if (self->reading_) self->close();
    });
  }

 private:
  std::shared_ptr<Session> shared() {
    return std::static_pointer_cast<Session>(shared_from_this());
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void begin() {
    if constexpr (kTls) {
      reading_ = true;
      lowest().expires_after(s_.options.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = shared()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->next_request();
                              });
    } else {
      next_request();
    }
  }

  // Waits for the first byte of the next request under the idle timeout; the request's
  // own deadline starts there.
  void next_request() {
    reading_ = true;
    if (s_.stopping) return close();
    if (buffer_.size() > 0) return read_request();
    lowest().expires_after(s_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_request();
                            });
  }

  void read_request() {
    parser_.emplace();
    // Whatever the transfer encoding: Beast counts chunked bodies against it as they
    // come, and refuses a Content-Length over it as soon as the header is read.
    parser_->body_limit(s_.options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(s_.options.max_header_bytes));
    // One deadline for the header and body as a whole: a client that trickles a byte
    // at a time is cut here, however often it sends one.
    lowest().expires_after(s_.options.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return refuse(413, error_json("payload_too_large",
                                    "the body is larger than --max-body, " +
                                        std::to_string(s_.options.max_body_bytes) + " bytes",
                                    "body"));
    }
    if (ec == http::error::header_limit) {
      return refuse(431, error_json("headers_too_large",
                                    "the header is larger than " +
                                        std::to_string(s_.options.max_header_bytes) + " bytes"));
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return refuse(400, error_json("bad_request", "the request could not be read as HTTP/1.1"));
    }
    if (ec) return close();  // the deadline, the client gone
    reading_ = false;
    auto message = parser_->release();
    parser_.reset();
    keep_alive_ = message.keep_alive();
    head_ = message.method() == http::verb::head;
    auto request = std::make_shared<HttpRequest>();
    request->method = std::string(message.method_string());
    request->target = std::string(message.target());
    request->authorization = std::string(message[http::field::authorization]);
    request->body = std::move(message.body());
    request->peer = peer_;
    request->arrived = SteadyClock::now();
    if (int wait = s_.take_token(request->authorization, request->peer); wait > 0) {
      HttpAnswer a;
      a.status = 429;
      a.body = error_json("rate_limited", "more than --rate-limit requests a second; retry in " +
                                              std::to_string(wait) + " s");
      a.headers.emplace_back("Retry-After", std::to_string(wait));
      return write(std::move(a));
    }
    // Kept alive while the request is answered: it may wait on the pool or be parked,
    // with nothing pending on the loop.
    work_.emplace(s_.ioc.get_executor());
    if (s_.options.on_io_thread && s_.options.on_io_thread(*request)) {
      execute(std::move(request));
    } else {
      asio::post(*s_.pool, [self = shared(), request]() mutable { self->execute(request); });
    }
  }

  // On the pool (or an I/O thread for reads): the handler, then the answer or a park.
  void execute(std::shared_ptr<HttpRequest> request) {
    HttpAnswer answer;
    try {
      answer = s_.handler(*request);
    } catch (...) {
      answer = {500, error_json("internal", "unexpected failure"), "application/json", {}, {}};
    }
    if (answer.park && !s_.stopping) {
      auto self = shared();
      s_.park({answer.park->until, answer.park->generation, [self, request] {
                 asio::post(*self->s_.pool, [self, request] { self->execute(request); });
               }});
      return;
    }
    asio::post(stream_.get_executor(),
               [self = shared(), a = std::move(answer)]() mutable { self->write(std::move(a)); });
  }

  void write(HttpAnswer a) { write_answer(std::move(a), false); }

  // An answer and then the connection closed: the rest of the request is not read.
  void refuse(int status, std::string body) {
    HttpAnswer a;
    a.status = status;
    a.body = std::move(body);
    write_answer(std::move(a), true);
  }

  void write_answer(HttpAnswer a, bool close_after) {
    reading_ = false;
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(a.status));
    response_.set(http::field::content_type, a.content_type);
    // Every answer, API and console alike: no content sniffing (a JSON error that names a
    // path is never run as a page), and nothing kept in caches unless the answer says
    // otherwise (the console's files say no-cache).
    response_.set("X-Content-Type-Options", "nosniff");
    response_.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : a.headers) response_.set(name, value);
    response_.body() = std::move(a.body);
    response_.keep_alive(keep_alive_ && !close_after && !s_.stopping);
    response_.prepare_payload();
    if (head_ && !close_after) {
      // HEAD: the headers GET would have, Content-Length included, and no body.
      const std::size_t length = response_.body().size();
      response_.body().clear();
      response_.content_length(length);
    }
    lowest().expires_after(s_.options.request_timeout);
    work_.reset();  // the write is pending on the loop from here
    http::async_write(stream_, response_,
                      [self = shared(), close_after](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        if (close_after) return self->linger();
                        if (!self->response_.keep_alive()) return self->close();
                        self->next_request();
                      });
  }

  // After a refusal the client may still be sending (a body over the cap): closing with
  // unread data would reset the connection and could lose the answer on its way. Stop
  // sending, discard what comes for a short while into a fixed buffer, then close.
  void linger() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    lowest().async_read_some(asio::buffer(scratch_),
                             [self = shared()](beast::error_code ec, std::size_t) {
                               if (ec) return self->close();
                               self->drain();
                             });
  }

  void close() {
    reading_ = false;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }

  HttpServer::Impl& s_;
  Stream stream_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  bool keep_alive_ = true;
  bool head_ = false;  // the request being answered is a HEAD
  bool reading_ = false;
  std::array<char, 16384> scratch_{};
};

}  // namespace

void HttpServer::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open() || stopping) return;
    if (!ec) {
      on_accept(std::move(socket));
      return do_accept();
    }
    // Out of descriptors (EMFILE) or similar: try again shortly instead of spinning.
    auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor());
    timer->expires_after(std::chrono::milliseconds(50));
    timer->async_wait([this, timer](beast::error_code) { do_accept(); });
  });
}

void HttpServer::Impl::on_accept(tcp::socket socket) {
  beast::error_code ec;
  if (open >= options.max_connections) {
    // Past the bound: closed at once, before any byte is read.
    socket.close(ec);
    return;
  }
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return;
  // Answers are small and written in pieces: without TCP_NODELAY, Nagle and delayed ACKs
  // hold each one about 40 ms.
  socket.set_option(tcp::no_delay(true), ec);
  std::string peer = endpoint.address().to_string();
  if (tls) {
    auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        *this, std::move(peer), std::move(socket), *tls);
    session->start();
  } else {
    auto session =
        std::make_shared<Session<beast::tcp_stream>>(*this, std::move(peer), std::move(socket));
    session->start();
  }
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler,
                       std::function<std::uint64_t()> generation)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(generation))) {
}

HttpServer::~HttpServer() {
  stop();
  if (impl_->parker.joinable()) {
    {
      std::lock_guard lock(impl_->park_mutex);
      impl_->park_stop = true;
    }
    impl_->park_cv.notify_all();
    impl_->parker.join();
  }
}

Status HttpServer::listen() {
  Impl& s = *impl_;
  // Each connection is a descriptor: allow as many as the hard limit does.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (!s.options.tls_cert.empty() || !s.options.tls_key.empty()) {
    if (s.options.tls_cert.empty() || s.options.tls_key.empty()) {
      return Error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
    }
    s.tls.emplace(asio::ssl::context::tls_server);
    s.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    s.tls->use_certificate_chain_file(s.options.tls_cert.string(), ec);
    if (ec) {
      return Error(ErrorCode::kInvalidArgument,
                   "--tls-cert " + s.options.tls_cert.string() + ": " + ec.message());
    }
    s.tls->use_private_key_file(s.options.tls_key.string(), asio::ssl::context::pem, ec);
    if (ec) {
      return Error(ErrorCode::kInvalidArgument,
                   "--tls-key " + s.options.tls_key.string() + ": " + ec.message());
    }
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) return Error(ErrorCode::kUnavailable, "cannot listen on " + s.options.host);
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(s.options.port));
  const std::string where = s.options.host + ":" + std::to_string(s.options.port);
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  // A deep queue: a burst of new connections (many clients at once) is not dropped.
  if (!ec) s.acceptor.listen(4096, ec);
  if (ec) {
    return Error(ErrorCode::kUnavailable, "cannot listen on " + where + " (" + ec.message() +
                                              ": in use, or not an "
                                              "address here)");
  }
  s.bound_port = s.acceptor.local_endpoint().port();
  return ok();
}

int HttpServer::port() const {
  return impl_->bound_port;
}

void HttpServer::run() {
  Impl& s = *impl_;
  if (s.stopping || !s.acceptor.is_open()) return;
  s.pool.emplace(static_cast<std::size_t>(std::max(1, s.options.worker_threads)));
  s.parker = std::thread([&s] { s.parker_loop(); });
  s.work.emplace(s.ioc.get_executor());
  if (s.stopping) s.work.reset();  // stop() came between the check above and here
  asio::post(s.acceptor.get_executor(), [&s] { s.do_accept(); });
  std::vector<std::thread> io;
  for (int i = 1; i < std::max(1, s.options.io_threads); ++i) {
    io.emplace_back([&s] { s.ioc.run(); });
  }
  s.ioc.run();
  for (auto& t : io) t.join();
  // Every connection is closed; handlers still on the pool (none by now) are waited for.
  s.pool->join();
  {
    std::lock_guard lock(s.park_mutex);
    s.park_stop = true;
  }
  s.park_cv.notify_all();
  s.parker.join();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  // Parked requests run again now: their handlers see the server stopping and answer.
  { std::lock_guard lock(s.park_mutex); }
  s.park_cv.notify_all();
  asio::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    std::vector<std::shared_ptr<SessionBase>> open;
    {
      std::lock_guard lock(s.sessions_mutex);
      for (auto& [raw, weak] : s.sessions) {
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
    }
    for (auto& session : open) session->close_if_reading();
    s.work.reset();
  });
}

void HttpServer::changed() {
  // The parker compares generations itself: a notify is enough, and a lost one impossible
  // (a request parks with the generation it saw; the lock orders this notify after the
  // parker's reading of the generation or before its wait).
  { std::lock_guard lock(impl_->park_mutex); }
  impl_->park_cv.notify_one();
}

}  // namespace straits::api::internal
