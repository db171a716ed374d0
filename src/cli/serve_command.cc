// straits serve: the control plane. Parses the options, builds the server,
// prints a few lines (the URL, the audit log's public key, where logs go, and
// last the admin token at the first start), and serves until
// SIGTERM or SIGINT, then stops gracefully: requests in flight are answered,
// pending commits finish, the scheduling pass in progress ends.
#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
#include <tuple>

#include "api/server.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/private_file.h"

namespace straits::cli {
namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string store = "sqlite:straits.db";
  std::string catalog;
  std::vector<std::string> rules;
  std::string seed;
  std::string token_file;
  std::string schedule_interval = "5s";
  std::string agent_heartbeat = "5s";
  std::string agent_lost_after = "30s";
  std::string agent_stop_grace = "15s";
  int threads = 32;
  std::size_t max_body = 1 << 20;
  std::size_t max_queued_per_org = 10'000;
  std::size_t max_jobs_per_pass = 1000;
  // The front door's transport (docs/operations.md).
  int io_threads = 2;
  std::string request_timeout = "10s";
  std::string idle_timeout = "5s";
  std::size_t max_connections = 10'000;
  double rate_limit = 100'000;
  double rate_burst = 100'000;
  std::string tls_cert, tls_key;
  bool quiet = false;
  // Signed history and secrets (issue 15).
  std::string signing_key;
  std::string witness;
  std::string seed_tokens;
  bool metrics_public = false;
  // The web console (issue 18): a folder served instead of the compiled-in
  // files (development), and the scenarios its what-if runs offer.
  std::string web_dir;
  std::string scenarios;
  // The console: request logs go to --log-file, or to stderr with --verbose.
  std::string log_file;
  bool verbose = false;
};

// A log line's level, from the JSON the server writes ("level":"error").
bool is_warning_or_error(const std::string& line) {
  return line.find("\"level\":\"error\"") != std::string::npos ||
         line.find("\"level\":\"warning\"") != std::string::npos;
}

// Where the seeded users' tokens go (ServerOptions::seed_tokens), "" if nowhere.
std::string seed_tokens_path(const ServeOptions& o, const store::StoreUrl& url) {
  if (o.seed.empty()) return "";
  if (!o.seed_tokens.empty()) return o.seed_tokens;
  if (!o.token_file.empty()) {
    return (std::filesystem::path(o.token_file).parent_path() / "seed-tokens.json").string();
  }
  if (url.kind == store::StoreUrl::Kind::kSqlite && url.target != ":memory:") {
    return url.target + ".seed-tokens.json";
  }
  return "";
}

bool seed_tokens_written(const ServeOptions& o, const store::StoreUrl& url) {
  const std::string path = seed_tokens_path(o, url);
  std::error_code ec;
  return !path.empty() && std::filesystem::exists(path, ec);
}

// A signal handler may only post to a semaphore; a thread waits on it.
std::binary_semaphore g_signalled(0);
extern "C" void on_signal(int) {
  g_signalled.release();
}

Error bad_option(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, message);
}

// Where it listens: HOST:PORT.
Status read_listen(const ServeOptions& o, api::ServerOptions& options) {
  const auto colon = o.listen.rfind(':');
  if (colon == std::string::npos) return bad_option("--listen wants HOST:PORT, got " + o.listen);
  options.host = o.listen.substr(0, colon);
  try {
    options.port = std::stoi(o.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return bad_option("--listen wants HOST:PORT, got " + o.listen);
  }
  return ok();
}

// What it serves from, how often it plans, when agents are lost, its limits.
Status read_serving_options(const Context& context, const ServeOptions& o,
                            const store::StoreUrl& url, api::ServerOptions& options) {
  options.store = url;
  options.catalog_dir =
      o.catalog.empty() ? shipped_path(context, "catalog") : std::filesystem::path(o.catalog);
  if (o.rules.empty()) {
    options.rule_dirs = {shipped_path(context, "rules") / "default"};
  } else {
    for (const auto& r : o.rules) options.rule_dirs.emplace_back(r);
  }
  if (!o.seed.empty()) options.seed = o.seed;
  if (!o.web_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(std::filesystem::path(o.web_dir) / "index.html", ec)) {
      return bad_option("--web-dir " + o.web_dir + ": no index.html there (the console's web/)");
    }
    options.web_dir = o.web_dir;
  }
  // Scenarios resolve their pack names and catalog where the shipped rules are.
  options.scenarios_dir = o.scenarios.empty() ? shipped_path(context, "examples/scenarios")
                                              : std::filesystem::path(o.scenarios);
  options.scenarios_root = shipped_path(context, "rules").parent_path();
  auto interval = o.schedule_interval == "0" ? Result<Duration>(Duration::seconds(0))
                                             : parse_duration(o.schedule_interval);
  if (!interval) return bad_option("--schedule-interval: " + interval.error().message());
  options.schedule_interval = *interval;
  for (auto [flag, text, into] :
       {std::tuple{"--agent-heartbeat", &o.agent_heartbeat, &options.agent_heartbeat_interval},
        std::tuple{"--agent-lost-after", &o.agent_lost_after, &options.agent_lost_after},
        std::tuple{"--agent-stop-grace", &o.agent_stop_grace, &options.agent_stop_grace}}) {
    auto d = parse_duration(*text);
    if (!d || *d <= Duration::seconds(0)) {
      return bad_option(std::string(flag) + ": " +
                        (d ? "must be more than zero" : d.error().message()));
    }
    *into = *d;
  }
  if (options.agent_lost_after <= options.agent_heartbeat_interval * 2) {
    return bad_option("--agent-lost-after must be more than two heartbeats (--agent-heartbeat)");
  }
  options.threads = o.threads;
  options.max_body_bytes = o.max_body;
  options.max_queued_per_org = o.max_queued_per_org;
  options.max_jobs_per_pass = o.max_jobs_per_pass;
  return ok();
}

// The signing key, the witness, the seeded tokens, the admin token file.
Status read_secret_options(const ServeOptions& o, const store::StoreUrl& url,
                           api::ServerOptions& options) {
  // The signing key: beside an SQLite file by default (the server's
  // default); PostgreSQL has no "beside", and a key that dies with the
  // process proves nothing, so the flag is required there.
  if (!o.signing_key.empty()) {
    options.signing_key = o.signing_key;
  } else if (url.kind == store::StoreUrl::Kind::kPostgres) {
    return bad_option(
        "--signing-key FILE is required with a PostgreSQL store: the key that signs the audit "
        "log must live outside the database (it is created, mode 600, if missing)");
  }
  if (!o.witness.empty()) options.witness = o.witness;
  options.metrics_public = o.metrics_public;
  // Seeded users' tokens: --seed-tokens, else beside the admin token file,
  // else beside an SQLite store.
  if (const std::string seed_tokens = seed_tokens_path(o, url); !seed_tokens.empty()) {
    options.seed_tokens = seed_tokens;
  }
  // A token file left from an earlier store would be refused only after the
  // new store is made: refuse it first when the store is plainly new.
  std::error_code ec;
  if (!o.token_file.empty() && std::filesystem::exists(o.token_file, ec) &&
      url.kind == store::StoreUrl::Kind::kSqlite && url.target != ":memory:" &&
      !std::filesystem::exists(url.target, ec)) {
    return bad_option("--token-file " + o.token_file +
                      " exists and the store is new: refusing to overwrite it (remove it)");
  }
  return ok();
}

// The front door: threads, deadlines, bounds, TLS.
Status read_transport_options(const ServeOptions& o, api::ServerOptions& options) {
  options.io_threads = o.io_threads;
  for (auto [flag, text, into] :
       {std::tuple{"--request-timeout", &o.request_timeout, &options.request_timeout},
        std::tuple{"--idle-timeout", &o.idle_timeout, &options.idle_timeout}}) {
    auto d = parse_duration(*text);
    if (!d || *d <= Duration::seconds(0)) {
      return bad_option(std::string(flag) + ": " +
                        (d ? "must be more than zero" : d.error().message()));
    }
    *into = *d;
  }
  options.max_connections = o.max_connections;
  if (o.rate_limit < 0 || o.rate_burst < 0) {
    return bad_option("--rate-limit and --rate-burst must not be negative");
  }
  options.rate_limit = o.rate_limit;
  options.rate_burst = o.rate_burst;
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return bad_option("--tls-cert and --tls-key go together");
  }
  options.tls_cert = o.tls_cert;
  options.tls_key = o.tls_key;
  return ok();
}

// A few lines, the admin token last, where it is easy to see. Fails when
// the admin token cannot be kept in --token-file.
Status print_banner(std::ostream& out, const ServeOptions& o, const store::StoreUrl& url,
                    api::Server& server, const std::string& where) {
  out << "straits serving on " << where << " (store " << store::describe(url) << ")\n";
  out << "  audit log signed by key " << server.public_key() << "\n";
  if (server.signing_key_created()) {
    out << "  (a new signing key: give this public key to your auditors)\n";
  }
  if (!o.witness.empty()) out << "  signed heads witnessed in " << o.witness << "\n";
  out << "  logs: "
      << (!o.log_file.empty() ? o.log_file
          : o.quiet           ? std::string("none")
          : o.verbose         ? std::string("stderr")
                              : std::string("warnings on stderr (--verbose or --log-file FILE "
                                                    "for requests)"))
      << "\n";
  if (server.bootstrap_token()) {
    if (seed_tokens_written(o, url)) {
      out << "  seeded users' tokens: " << seed_tokens_path(o, url) << " (mode 600)\n";
    }
    Status saved = ok();
    if (!o.token_file.empty()) {
      // Created 0600 whole, never over an existing file: it is the admin's key.
      saved = create_private_file(o.token_file, *server.bootstrap_token() + "\n");
      if (saved) out << "  admin token also in " << o.token_file << " (mode 600)\n";
    }
    out << "first start: admin token (shown once, keep it):\n  export STRAITS_URL=" << where
        << "\n  export STRAITS_TOKEN=" << *server.bootstrap_token() << "\n";
    if (!saved) {
      out.flush();
      return Error(saved.error().code(),
                   "cannot keep the admin token in --token-file: " + saved.error().message());
    }
  } else if (!o.token_file.empty() && std::filesystem::exists(o.token_file)) {
    out << "  export STRAITS_URL=" << where << "\n  export STRAITS_TOKEN=$(cat " << o.token_file
        << ")\n";
  }
  return ok();
}

void run(Context& context, const ServeOptions& o) {
  api::ServerOptions options;
  if (Status listen = read_listen(o, options); !listen) {
    return context.fail(listen.error().message());
  }
  auto url = store::parse_store_url(o.store);
  if (!url) return context.fail(url.error().message());
  Status read = read_serving_options(context, o, *url, options);
  if (read) read = read_secret_options(o, *url, options);
  if (read) read = read_transport_options(o, options);
  if (!read) return context.fail(read.error().message());
  const std::string host = options.host;
  std::mutex log_mutex;
  std::ofstream log_file;
  if (!o.log_file.empty()) {
    log_file.open(o.log_file, std::ios::app);
    if (!log_file) return context.fail("--log-file: cannot open " + o.log_file);
  }
  const bool verbose = o.verbose, quiet = o.quiet;
  if (log_file.is_open() || !quiet) {
    // Every line to the file; on the console only warnings and errors,
    // unless --verbose (all) or --quiet (none).
    options.log = [&log_mutex, &log_file, verbose, quiet](const std::string& line) {
      std::lock_guard lock(log_mutex);
      if (log_file.is_open()) log_file << line << '\n' << std::flush;
      if (!quiet && (verbose || is_warning_or_error(line))) std::cerr << line << '\n';
    };
  }
  SystemClock clock;
  auto server = api::Server::create(std::move(options), clock);
  if (!server) return context.fail(server.error().to_string());
  if (Status listening = (*server)->listen(); !listening) {
    return context.fail(listening.error().message());
  }
  const std::string where = (o.tls_cert.empty() ? "http://" : "https://") + host + ":" +
                            std::to_string((*server)->port());
  // From here a SIGTERM stops it gracefully: a script may send one as soon
  // as it has read the lines below.
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  if (Status shown = print_banner(*context.out, o, *url, **server, where); !shown) {
    return context.fail(shown.error().message());
  }
  context.out->flush();
  api::Server* s = server->get();
  std::thread watcher([s] {
    g_signalled.acquire();
    s->stop();
  });
  s->run();
  g_signalled.release();  // the watcher ends if run() returned on its own
  watcher.join();
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  *context.out << "straits stopped\n";
}

}  // namespace

void add_serve_command(CLI::App& app, Context& context) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* serve =
      app.add_subcommand("serve", "Run the control plane: HTTP/JSON API, store, scheduling loop");
  serve->add_option("--listen", o->listen, "HOST:PORT (default 127.0.0.1:8080; port 0: any)");
  serve->add_option("--store", o->store,
                    "sqlite:PATH (default sqlite:straits.db) or postgres://...");
  serve->add_option("--catalog", o->catalog, "Catalog folder (default: the shipped catalog)");
  serve->add_option("--rules", o->rules, "Rule pack folders, base first (default: rules/default)");
  serve->add_option("--seed", o->seed,
                    "JSON file of users and leases written at the first start of an empty store");
  serve->add_option("--token-file", o->token_file,
                    "At the first start, also write the admin token to this file (mode 600)");
  serve->add_option("--schedule-interval", o->schedule_interval,
                    "Longest time between scheduling passes (default 5s; 0: only on demand)");
  serve->add_option("--agent-heartbeat", o->agent_heartbeat,
                    "How often site agents heartbeat (default 5s)");
  serve->add_option("--agent-lost-after", o->agent_lost_after,
                    "An agent not heard from this long is lost and its jobs are requeued from "
                    "their checkpoints (default 30s)");
  serve->add_option("--agent-stop-grace", o->agent_stop_grace,
                    "How long after a run's window closed to wait for its agent to report it "
                    "ended before requeueing the job anyway (default 15s)");
  serve->add_option(
      "--threads", o->threads,
      "Worker threads running handlers; changes wait there for their commit (default 32)");
  serve->add_option("--max-body", o->max_body, "Largest request body in bytes (default 1 MiB)");
  serve
      ->add_option("--max-queued-per-org", o->max_queued_per_org,
                   "Most jobs one org may have queued; past it, submissions get 429 "
                   "(default 10000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
  serve
      ->add_option("--max-jobs-per-pass", o->max_jobs_per_pass,
                   "Most queued jobs one scheduling pass considers, shared round robin by org "
                   "(default 1000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
  serve->add_option("--io-threads", o->io_threads,
                    "Threads running the event loop: connections cost none (default 2)");
  serve->add_option("--request-timeout", o->request_timeout,
                    "Deadline for a request's headers and body as a whole, and for writing its "
                    "answer (default 10s)");
  serve->add_option("--idle-timeout", o->idle_timeout,
                    "A kept-alive connection with no request is closed after this (default 5s)");
  serve->add_option("--max-connections", o->max_connections,
                    "Open connections at most; past it new ones are closed at once (default "
                    "10000)");
  serve->add_option(
      "--rate-limit", o->rate_limit,
      "Requests a second per token (per address without one); past it 429 with "
      "Retry-After; 0: no limit (default 100000: a production deployment sets its own)");
  serve->add_option("--rate-burst", o->rate_burst,
                    "Requests a token may send at once above --rate-limit (default 100000)");
  serve->add_option("--tls-cert", o->tls_cert, "PEM certificate chain: serve HTTPS only");
  serve->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert");
  serve->add_flag("--quiet", o->quiet, "No JSON logs on stderr, not even errors");
  serve->add_flag("--verbose", o->verbose, "Every JSON log line on stderr, requests included");
  serve->add_option("--log-file", o->log_file,
                    "Append every JSON log line (requests included) to this file");
  serve->add_option("--signing-key", o->signing_key,
                    "The Ed25519 key that signs the audit log, created (mode 600) if missing "
                    "(default: PATH.signing-key beside an SQLite store; required for PostgreSQL)");
  serve->add_option("--witness", o->witness,
                    "Append every signed head of the audit log to this file too (outside the "
                    "database)");
  serve->add_option("--seed-tokens", o->seed_tokens,
                    "Write the seeded users' tokens here, mode 600 (default: seed-tokens.json "
                    "beside --token-file, else PATH.seed-tokens.json beside an SQLite store)");
  serve->add_option("--web-dir", o->web_dir,
                    "Serve the console from this folder, read at each request, instead of the "
                    "copy compiled in (development: edit web/ and reload)");
  serve->add_option("--scenarios", o->scenarios,
                    "Scenarios the console's what-if runs offer (default: the shipped "
                    "examples/scenarios)");
  serve->add_flag("--metrics-public", o->metrics_public,
                  "Serve /metrics without a token (default: admin, auditor or compliance)");
  serve->callback([&context, o] { run(context, *o); });
}

}  // namespace straits::cli
