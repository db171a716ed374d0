// The control plane (design: "api"): `straits serve`. An HTTP/JSON API under
// /v1 over a durable store, with bearer-token authentication, roles and
// tenant isolation, leases that never over-commit a pool, jobs placed by a
// scheduling loop that runs the sched module on the server's state, policy
// decisions as a service, and an append-only, hash-chained audit log.
//
// The server keeps its whole state in memory, loaded from the store at start,
// and is the store's only writer (Store::claim_writer). Every mutation is
// checked and applied by one writer thread and committed with its audit
// event; requests that arrive together share one commit (group commit). A
// request is answered only once its commit is durable.
//
// Example:
//   ServerOptions options;
//   options.store = *store::parse_store_url("sqlite:straits.db");
//   options.catalog_dir = "catalog";
//   options.rule_dirs = {"rules/default"};
//   auto server = Server::create(options, clock);
//   if (server && (*server)->bootstrap_token()) print(*(*server)->bootstrap_token());
//   (*server)->listen();  // binds; port() says where
//   (*server)->run();     // until stop(), e.g. from a SIGTERM handler
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/time.h"
#include "store/store.h"

namespace straits::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Server::port)
  store::StoreUrl store;
  // The catalog folder: chips and countries are read from it at every start;
  // operators, sites, pools, orgs, licences and datasets seed an empty store
  // and are managed through the API afterwards.
  std::filesystem::path catalog_dir;
  std::vector<std::filesystem::path> rule_dirs;  // the packs, base first
  // Leases (and an example user) for the example world, written at the
  // first start of an empty store: a YAML file as docs/operations.md says.
  std::optional<std::filesystem::path> seed;
  // The scheduling loop: a pass after every change, at most this often, and
  // at least every `schedule_interval`. Zero: no loop (tests drive passes).
  Duration schedule_interval = Duration::seconds(5);
  Duration min_pass_gap = Duration::milliseconds(50);
  std::size_t max_body_bytes = 1 << 20;  // larger bodies: 413
  std::size_t max_items = 1000;          // list sizes in a body, page sizes
  // The HTTP front door (docs/operations.md). Connections are served by
  // `io_threads` running the event loop: an idle or slow connection holds no
  // thread. Reads run on those threads; changes on `threads` workers, where
  // each waits for its durable commit, and concurrent submissions share a commit, so more
  // workers than cores pay off. Long-polls are parked, holding no worker.
  int threads = 32;
  int io_threads = 2;
  // Headers and body of one request as a whole, from its first byte; a
  // kept-alive connection waiting for its next request; writing an answer
  // has `request_timeout` too.
  Duration request_timeout = Duration::seconds(10);
  Duration idle_timeout = Duration::seconds(5);
  std::size_t max_connections = 10'000;  // past it, new ones are closed at once
  // Requests a second per bearer token (per client address without one),
  // with bursts of `rate_burst`; past it 429 with Retry-After. 0: no limit.
  double rate_limit = 100'000;
  double rate_burst = 100'000;
  // Both set: HTTPS only (PEM files: the certificate chain, the private key).
  std::filesystem::path tls_cert, tls_key;
  // Site agents (docs/agents.md): how often they heartbeat; when one not
  // heard from is lost (its jobs are queued again from their checkpoints);
  // how long after a run's window closed the server waits for its agent to
  // say it ended before queueing the job anyway (the agent stops it by then
  // on its own); how many times a job is requeued after failures that are
  // not its own before it fails.
  Duration agent_heartbeat_interval = Duration::seconds(5);
  Duration agent_lost_after = Duration::seconds(30);
  Duration agent_stop_grace = Duration::seconds(15);
  int max_requeues = 3;
  // Fairness under abuse: the most jobs an org may have queued (past it,
  // POST /v1/jobs answers 429), and the most queued jobs one scheduling pass
  // considers, shared round robin across orgs (sched::SchedulerOptions).
  std::size_t max_queued_per_org = 10'000;
  std::size_t max_jobs_per_pass = 1000;
  // History that cannot be rewritten quietly (issue 15, docs/operations.md).
  // The Ed25519 key that signs the audit chain's head at each commit: a file
  // outside the database, created (0600) at the first start when missing.
  // Unset: PATH.signing-key beside an SQLite file; a key in memory for
  // sqlite::memory: and, with a warning logged, for PostgreSQL (`straits
  // serve` requires the flag there: a key that dies with the process proves
  // nothing after it).
  std::optional<std::filesystem::path> signing_key;
  // Each signed head is appended to this file as well (one JSON line,
  // fsynced before the commit's callers are answered): a copy the database
  // administrator does not hold, which shows a cut tail.
  std::optional<std::filesystem::path> witness;
  // Where the seed's users' tokens are written (mode 0600, a new file: an
  // existing one is refused). Unset: they are not kept anywhere (never logged).
  std::optional<std::filesystem::path> seed_tokens;
  // /metrics shows fleet figures (leased and used GPUs per pool): only to
  // admin, auditor and compliance tokens, unless this opts out.
  bool metrics_public = false;
  // The web console (issue 18) at / and /console/: the files of web/ compiled
  // in, or, set, the files of this folder read at each request (development).
  std::optional<std::filesystem::path> web_dir;
  // What-if runs (POST /v1/whatif): the scenarios offered (*.yaml of this
  // folder; none when empty), where their pack names ("default") and default
  // catalog resolve (sim::load_scenario's shipped root), and where each run
  // makes its private scratch folder (empty: the system's temporary folder).
  std::filesystem::path scenarios_dir;
  std::filesystem::path scenarios_root;
  std::filesystem::path whatif_scratch;
  // Structured logs (one JSON object a line); nullptr: none.
  std::function<void(const std::string& line)> log;
  // Tests only: called with a job's id as a mutation saves the job; a throw
  // from it fails the mutation part-way (the writer then reloads the world).
  std::function<void(const std::string& job)> on_save_job;
};

class Server {
 public:
  // Opens and migrates the store, claims it, loads the state, seeds an empty
  // store (the catalog's entities, an admin user and its token). Fails with
  // a message naming the store, the catalog or the rule that is wrong.
  static Result<std::unique_ptr<Server>> create(ServerOptions options, const Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The admin token made at the first start of an empty store: shown once,
  // never stored (only its hash is). nullopt on later starts.
  const std::optional<std::string>& bootstrap_token() const;

  // Hex of the public key that verifies the audit chain's signed heads.
  const std::string& public_key() const;
  // True when this start created the signing key file.
  bool signing_key_created() const;

  // Binds the listening socket (options.host:port).
  Status listen();
  int port() const;
  // Serves until stop(); then finishes the requests in flight, the pending
  // commits and the scheduling pass, and returns.
  void run();
  // Thread-safe and async-signal-safe enough to call from a signal watcher.
  void stop();

  // One scheduling pass now, on the calling thread (tests, benchmarks).
  // Returns how many jobs it started, moved or left waiting.
  struct PassSummary {
    std::size_t started = 0, moved = 0, waiting = 0, checkpointing = 0;
    Duration took;
    // Where the time went: copying the state, planning (sched), applying
    // the plan through the writer (records, audit events, the commit).
    Duration snapshot, plan, apply;
  };
  Result<PassSummary> schedule_now();

  // Answers one request as the HTTP server would, without HTTP: `target` is
  // the path with its query string, `authorization` the header's value
  // ("Bearer st_..."). For tests and fuzzing; thread-safe.
  struct Response {
    int status = 0;
    std::string body;
  };
  Response handle(const std::string& method, const std::string& target,
                  const std::string& authorization, const std::string& body);

  // The routes the server answers, as "METHOD /path/{param}", sorted: what
  // the OpenAPI document must describe (tests check both ways).
  static std::vector<std::string> routes();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document the server serves at /v1/openapi.json.
const std::string& openapi_document();

}  // namespace straits::api
