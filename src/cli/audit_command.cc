// straits audit list|verify|export|verify-bundle: the audit log of a running
// server (over its API, as an admin, auditor or compliance user) or of a
// store read directly (--store, for an auditor on the database host).
//
// `verify` recomputes the hash chain and checks its signed heads (issue 15):
// with the server's public key (--public-key), a chain re-hashed from an
// event on is found at the first head that no longer matches; with the
// witness file (--witness), a tail cut together with its heads is found too.
// `verify --state` compares the leases and jobs tables with the digests the
// chain recorded for them. `export` writes a range of events with the heads
// that cover them and the public key, one JSON file that `verify-bundle`
// checks offline: no server, no database.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "core/clock.h"
#include "core/time.h"
#include "store/bundle_json.h"
#include "store/signing.h"
#include "store/store.h"

namespace straits::cli {
namespace {

using nlohmann::json;

constexpr int kPage = 1000;
constexpr const char* kBundleFormat = "straits-audit-bundle/1";

using Remote = Connection;

// GETs of one server's API; failures become messages (Context::fail).
class Api {
 public:
  Api(Context& context, const Remote& r) : context_(context), client_(context, r) {}

  std::optional<json> get(const std::string& path) { return client_.get(path); }

  // Every item of a paged list (?after=&limit=), in order.
  std::optional<std::vector<json>> all(const std::string& path) {
    std::vector<json> items;
    std::string after = "0";
    for (;;) {
      auto page = get(path + "?after=" + after + "&limit=" + std::to_string(kPage));
      if (!page) return std::nullopt;
      for (const json& j : page->value("items", json::array())) items.push_back(j);
      const json next = page->value("next", json(nullptr));
      if (!next.is_string()) return items;
      if (std::stoll(next.get<std::string>()) <= std::stoll(after)) {
        context_.fail("the server's cursor for " + path + " does not advance");
        return std::nullopt;
      }
      after = next.get<std::string>();
    }
  }

 private:
  Context& context_;
  ApiClient client_;
};

void print_json(Context& context, const json& j) {
  *context.out << j.dump(2) << "\n";
}

std::string cell(const json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "-";
  const json& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// ---- events and heads as JSON ---------------------------------------------

// An event as the API and bundles carry it: the stored texts, byte for byte.
// `at` is "at_us" (exact) in a bundle, ISO 8601 over the API.
std::optional<store::AuditEvent> event_of(const json& j, std::string& problem) {
  store::AuditEvent e;
  try {
    e.seq = j.at("seq").get<std::int64_t>();
    if (j.contains("at_us")) {
      e.at = Instant::from_unix_microseconds(j.at("at_us").get<std::int64_t>());
    } else {
      auto at = parse_instant(j.at("at").get<std::string>());
      if (!at) {
        problem = "event " + std::to_string(e.seq) + ": 'at' " + at.error().message();
        return std::nullopt;
      }
      e.at = *at;
    }
    e.actor = j.at("actor").get<std::string>();
    e.action = j.at("action").get<std::string>();
    e.subject = j.at("subject").get<std::string>();
    e.before_json = j.at("before_json").get<std::string>();
    e.after_json = j.at("after_json").get<std::string>();
    e.decision_json = j.at("decision_json").get<std::string>();
    e.prev_hash = j.at("prev_hash").get<std::string>();
    e.hash = j.at("hash").get<std::string>();
  } catch (const json::exception& ex) {
    problem = "a malformed audit event: " + std::string(ex.what());
    return std::nullopt;
  }
  return e;
}

std::optional<store::SignedHead> head_of(const json& j, std::string& problem) {
  store::SignedHead h;
  try {
    h.seq = j.at("seq").get<std::int64_t>();
    h.hash = j.at("hash").get<std::string>();
    h.at = Instant::from_unix_microseconds(j.at("at_us").get<std::int64_t>());
    h.public_key = j.at("public_key").get<std::string>();
    h.signature = j.at("signature").get<std::string>();
  } catch (const json::exception& ex) {
    problem = "a malformed signed head: " + std::string(ex.what());
    return std::nullopt;
  }
  return h;
}

// ---- where the log comes from ----------------------------------------------

struct Log {
  std::vector<store::AuditEvent> events;
  std::vector<store::SignedHead> heads;
  std::string where;                    // "" over the API
  std::unique_ptr<store::Store> store;  // set with --store
  SystemClock clock;
};

// Opens a store read directly; nullptr after printing why not.
std::unique_ptr<store::Store> open_store(Context& context, const std::string& text,
                                         const Clock& clock) {
  auto url = store::parse_store_url(text);
  if (!url) {
    context.fail(url.error().message());
    return nullptr;
  }
  if (url->kind == store::StoreUrl::Kind::kSqlite && url->target != ":memory:") {
    std::error_code ec;
    if (!std::filesystem::exists(url->target, ec)) {
      context.fail("no store at " + store::describe(*url));
      return nullptr;
    }
  }
  auto db = store::Store::open(*url, clock);
  if (!db) {
    context.fail(db.error().message());
    return nullptr;
  }
  auto status = (*db)->status();
  if (!status) {
    context.fail(status.error().message());
    return nullptr;
  }
  if (status->version == 0) {
    context.fail(store::describe(*url) + " has no straits schema (run `straits db migrate`)");
    return nullptr;
  }
  return std::move(db).value();
}

// The whole log (events and signed heads), from the store or the API.
std::unique_ptr<Log> read_log(Context& context, const std::string& store_url,
                              const Remote& remote) {
  auto log = std::make_unique<Log>();
  if (!store_url.empty()) {
    log->store = open_store(context, store_url, log->clock);
    if (!log->store) return nullptr;
    log->where = store::describe(*store::parse_store_url(store_url));
    for (;;) {
      auto page = log->store->audit_events(log->events.empty() ? 0 : log->events.back().seq, kPage);
      if (!page) {
        context.fail(page.error().message());
        return nullptr;
      }
      if (page->empty()) break;
      for (auto& e : *page) log->events.push_back(std::move(e));
    }
    auto heads = log->store->signed_heads(0, std::numeric_limits<std::size_t>::max());
    if (!heads) {
      context.fail(heads.error().message());
      return nullptr;
    }
    log->heads = std::move(heads).value();
    return log;
  }
  Api api(context, remote);
  auto events = api.all("/v1/audit");
  if (!events) return nullptr;
  for (const json& j : *events) {
    std::string problem;
    auto e = event_of(j, problem);
    if (!e) {
      context.fail(problem);
      return nullptr;
    }
    log->events.push_back(std::move(*e));
  }
  auto heads = api.all("/v1/audit/heads");
  if (!heads) return nullptr;
  for (const json& j : *heads) {
    std::string problem;
    auto h = head_of(j, problem);
    if (!h) {
      context.fail(problem);
      return nullptr;
    }
    log->heads.push_back(std::move(*h));
  }
  return log;
}

// The heads of a witness file, one JSON object a line; unreadable lines are
// problems (a witness is evidence: nothing in it is skipped quietly).
std::optional<std::vector<store::SignedHead>> read_witness(Context& context,
                                                           const std::string& path,
                                                           std::vector<std::string>& problems) {
  std::ifstream in(path);
  if (!in) {
    context.fail("cannot read the witness file " + path);
    return std::nullopt;
  }
  std::vector<store::SignedHead> heads;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    std::string problem = "not JSON";
    std::optional<store::SignedHead> h;
    if (!j.is_discarded()) h = head_of(j, problem);
    if (!h) {
      problems.push_back(path + ":" + std::to_string(n) + ": " + problem);
      continue;
    }
    heads.push_back(std::move(*h));
  }
  return heads;
}

// ---- list -------------------------------------------------------------------

struct ListOptions : Remote {
  std::int64_t after = 0;
  int limit = 0;
};

void audit_list(Context& context, const ListOptions& o) {
  Api api(context, o);
  std::string query;
  if (o.after > 0) query += "?after=" + std::to_string(o.after);
  if (o.limit > 0)
    query += (query.empty() ? "?" : "&") + std::string("limit=") + std::to_string(o.limit);
  auto page = api.get("/v1/audit" + query);
  if (!page) return;
  if (o.json) return print_json(context, *page);
  Table table({"SEQ", "AT", "ACTOR", "ACTION", "SUBJECT"}, {Table::Align::kRight});
  for (const json& e : page->value("items", json::array())) {
    table.add_row(
        {cell(e, "seq"), cell(e, "at"), cell(e, "actor"), cell(e, "action"), cell(e, "subject")});
  }
  table.print(*context.out);
  if ((*page)["next"].is_string()) {
    *context.out << "(more events: --after " << (*page)["next"].get<std::string>() << ")\n";
  }
}

// ---- verify -----------------------------------------------------------------

struct VerifyOptions : Remote {
  std::string store;
  std::string expect_head;
  std::string public_key;
  std::string witness;
  bool state = false;
};

// The expected head must be the hash of one event of the chain: the chain
// may only have grown since it was recorded.
void check_expected_head(const std::vector<store::AuditEvent>& events, const std::string& head,
                         store::AuditVerification& v, std::string& note) {
  for (const auto& e : events) {
    if (e.hash != head) continue;
    const auto since = static_cast<std::int64_t>(events.size()) - e.seq;
    if (since > 0) {
      note = "expected head is event " + std::to_string(e.seq) + "; " + std::to_string(since) +
             " events appended since";
    }
    return;
  }
  v.problems.push_back("the expected head " + head +
                       " is not in the chain: events were removed from its tail (or this is "
                       "another log)");
}

void audit_verify(Context& context, const VerifyOptions& o) {
  if (o.state && o.store.empty()) {
    return context.fail("--state reads the leases and jobs tables: give --store URL");
  }
  std::string key;
  if (!o.public_key.empty()) {
    auto read = store::read_public_key(o.public_key);
    if (!read) return context.fail("--public-key: " + read.error().message());
    key = *read;
  }
  auto log = read_log(context, o.store, o);
  if (!log) return;
  store::AuditVerification v = store::verify_audit_chain(log->events);
  std::vector<std::string> witness_problems;
  std::optional<std::vector<store::SignedHead>> witness;
  if (!o.witness.empty()) {
    witness = read_witness(context, o.witness, witness_problems);
    if (!witness) return;
  }
  store::verify_signed_heads(log->events, log->heads, key, witness ? &*witness : nullptr, v);
  for (auto& p : witness_problems) v.problems.push_back(std::move(p));
  std::string note;
  if (!o.expect_head.empty()) check_expected_head(log->events, o.expect_head, v, note);
  std::size_t state_rows = 0;
  if (o.state) {
    auto snapshot = log->store->load();
    if (!snapshot) return context.fail(snapshot.error().message());
    state_rows = snapshot->leases.size() + snapshot->jobs.size();
    for (auto& p : store::verify_state(log->events, snapshot->leases, snapshot->jobs)) {
      v.problems.push_back(std::move(p));
    }
  }
  const std::string signer =
      !key.empty() ? key : (log->heads.empty() ? std::string() : log->heads.back().public_key);
  if (o.json) {
    json j = {{"ok", v.ok()},          {"events", v.events},
              {"head", v.head},        {"signed_heads", v.signed_heads},
              {"public_key", signer},  {"key_given", !key.empty()},
              {"problems", v.problems}};
    if (o.state) j["state_rows"] = state_rows;
    print_json(context, j);
  } else if (v.ok()) {
    *context.out << "audit log intact: " << v.events << " events, head " << v.head << "\n";
    if (v.signed_heads > 0) {
      *context.out << "  " << log->heads.size() << " signed heads"
                   << (witness ? " and " + std::to_string(witness->size()) + " witness heads (" +
                                     o.witness + ")"
                               : std::string())
                   << " verified"
                   << (key.empty() ? " against the key they name (" + signer +
                                         "): give --public-key to check it is the server's"
                                   : " with " + key)
                   << "\n";
    } else {
      *context.out << "  no signed heads: the chain alone proves nothing to whoever can "
                      "rewrite all of it\n";
    }
    if (o.state) {
      *context.out << "  leases and jobs as the chain recorded them: " << state_rows << " rows\n";
    }
    if (!note.empty()) *context.out << "  " << note << "\n";
  } else {
    *context.out << "audit log NOT intact (" << v.events << " events read):\n";
    for (const auto& p : v.problems) *context.out << "  " << p << "\n";
  }
  if (!v.ok()) {
    context.fail("the audit log " +
                 (log->where.empty() ? std::string() : "of " + log->where + " ") + "has " +
                 std::to_string(v.problems.size()) +
                 (v.problems.size() == 1 ? " problem" : " problems"));
  }
}

// ---- export and verify-bundle --------------------------------------------

struct ExportOptions : Remote {
  std::string store;
  std::string from, to;
  std::string out;
  std::string public_key;
};

void audit_export(Context& context, const ExportOptions& o) {
  auto from = parse_instant(o.from);
  if (!from) return context.fail("--from: " + from.error().message());
  auto to = parse_instant(o.to);
  if (!to) return context.fail("--to: " + to.error().message());
  if (*to <= *from) return context.fail("--to must be after --from");
  auto log = read_log(context, o.store, o);
  if (!log) return;
  // The events of [from, to), then on to the first signed head at or after
  // the last of them: every event of the bundle is covered by a signature.
  std::size_t first = log->events.size(), last = 0;
  for (std::size_t i = 0; i < log->events.size(); ++i) {
    if (log->events[i].at < *from || log->events[i].at >= *to) continue;
    first = std::min(first, i);
    last = i;
  }
  if (first == log->events.size()) {
    return context.fail("no audit events from " + o.from + " to " + o.to);
  }
  const std::int64_t first_seq = log->events[first].seq;
  std::int64_t end_seq = log->events[last].seq;
  for (const auto& h : log->heads) {
    if (h.seq >= end_seq) {
      end_seq = h.seq;
      break;
    }
  }
  json bundle = {{"format", kBundleFormat},
                 {"from", to_iso8601(*from)},
                 {"to", to_iso8601(*to)},
                 {"exported_at", to_iso8601(log->clock.now())},
                 {"source", log->where.empty() ? "api" : log->where}};
  json events = json::array(), heads = json::array();
  for (const auto& e : log->events) {
    if (e.seq >= first_seq && e.seq <= end_seq) events.push_back(store::bundle_json(e));
  }
  std::string key;
  for (const auto& h : log->heads) {
    if (h.seq < first_seq || h.seq > end_seq) continue;
    heads.push_back(store::bundle_json(h));
    key = h.public_key;
  }
  if (!o.public_key.empty()) {
    auto given = store::read_public_key(o.public_key);
    if (!given) return context.fail("--public-key: " + given.error().message());
    key = *given;
  }
  if (heads.empty()) {
    return context.fail("no signed head covers events " + std::to_string(first_seq) + ".." +
                        std::to_string(end_seq) +
                        ": the store has no signed heads (a straits older than issue 15?)");
  }
  bundle["public_key"] = key;
  bundle["events"] = std::move(events);
  bundle["heads"] = std::move(heads);
  std::ofstream out(o.out, std::ios::trunc);
  out << bundle.dump(1) << "\n";
  out.close();
  if (!out) return context.fail("cannot write " + o.out);
  *context.out << "wrote " << o.out << ": events " << first_seq << ".." << end_seq << " ("
               << bundle["events"].size() << "), " << bundle["heads"].size()
               << " signed heads, public key " << key << "\n";
}

struct BundleOptions {
  std::string bundle;
  std::string public_key;
  bool json = false;
};

void audit_verify_bundle(Context& context, const BundleOptions& o) {
  std::ifstream in(o.bundle);
  if (!in) return context.fail("cannot read " + o.bundle);
  std::ostringstream text;
  text << in.rdbuf();
  json bundle = json::parse(text.str(), nullptr, false);
  if (bundle.is_discarded() || !bundle.is_object() ||
      bundle.value("format", "") != std::string(kBundleFormat)) {
    return context.fail(o.bundle + ": not a straits audit bundle (format " + kBundleFormat + ")");
  }
  std::vector<std::string> problems;
  std::string key = bundle.value("public_key", "");
  if (!o.public_key.empty()) {
    auto given = store::read_public_key(o.public_key);
    if (!given) return context.fail("--public-key: " + given.error().message());
    if (*given != key) {
      problems.push_back("the bundle names another public key (" + key.substr(0, 16) +
                         "...) than the one given");
    }
    key = *given;
  }
  std::vector<store::AuditEvent> events;
  std::vector<store::SignedHead> heads;
  for (const json& j : bundle.value("events", json::array())) {
    std::string problem;
    auto e = event_of(j, problem);
    if (!e) return context.fail(o.bundle + ": " + problem);
    events.push_back(std::move(*e));
  }
  for (const json& j : bundle.value("heads", json::array())) {
    std::string problem;
    auto h = head_of(j, problem);
    if (!h) return context.fail(o.bundle + ": " + problem);
    heads.push_back(std::move(*h));
  }
  if (events.empty()) problems.push_back("the bundle holds no events");
  // A run of the chain: each event's hash is its contents', each links to
  // the one before; the first one's link is where the run starts.
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const std::string n = "event " + std::to_string(e.seq);
    if (store::audit_hash(e) != e.hash) {
      problems.push_back(n + ": hash does not match its contents (altered)");
    }
    if (i > 0 && e.seq != events[i - 1].seq + 1) {
      problems.push_back(n + ": follows event " + std::to_string(events[i - 1].seq) +
                         " (removed, inserted or reordered)");
    } else if (i > 0 && e.prev_hash != events[i - 1].hash) {
      problems.push_back(n + ": prev_hash is not event " + std::to_string(events[i - 1].seq) +
                         "'s hash");
    }
  }
  store::AuditVerification v;
  if (!events.empty()) {
    if (heads.empty()) problems.push_back("no signed head covers the events");
    v.events = static_cast<std::int64_t>(events.size());
    v.head = events.back().hash;
    store::verify_signed_heads(events, heads, key, nullptr, v);
    if (key.empty()) problems.push_back("the bundle names no public key");
  }
  for (auto& p : v.problems) problems.push_back(std::move(p));
  const bool good = problems.empty();
  if (o.json) {
    print_json(context, {{"ok", good},
                         {"events", events.size()},
                         {"first", events.empty() ? 0 : events.front().seq},
                         {"last", events.empty() ? 0 : events.back().seq},
                         {"signed_heads", heads.size()},
                         {"public_key", key},
                         {"problems", problems}});
  } else if (good) {
    *context.out << "bundle intact: events " << events.front().seq << ".." << events.back().seq
                 << " (" << bundle.value("from", "") << " to " << bundle.value("to", "") << "), "
                 << heads.size() << " signed heads verified with " << key << "\n";
    if (o.public_key.empty()) {
      *context.out << "  the key is the bundle's own: compare it with the operator's "
                      "(--public-key)\n";
    }
  } else {
    *context.out << "bundle NOT intact:\n";
    for (const auto& p : problems) *context.out << "  " << p << "\n";
  }
  if (!good) {
    context.fail(o.bundle + " has " + std::to_string(problems.size()) +
                 (problems.size() == 1 ? " problem" : " problems"));
  }
}

}  // namespace

void add_audit_command(CLI::App& app, Context& context) {
  const std::string server_note = " (over the API: STRAITS_URL, STRAITS_TOKEN)";
  CLI::App* audit = app.add_subcommand(
      "audit", "The signed, hash-chained audit log: list, verify, export, verify-bundle");
  audit->require_subcommand(1);
  {
    auto o = std::make_shared<ListOptions>();
    CLI::App* c = audit->add_subcommand("list", "List audit events" + server_note);
    c->add_option("--after", o->after, "Events after this number (default 0)");
    c->add_option("--limit", o->limit, "At most this many")->check(CLI::PositiveNumber);
    add_connection(c, *o);
    c->callback([&context, o] { audit_list(context, *o); });
  }
  {
    auto o = std::make_shared<VerifyOptions>();
    CLI::App* c = audit->add_subcommand(
        "verify",
        "Recompute the hash chain and check its signed heads: every event fetched from the "
        "server, or --store on the store itself");
    c->add_option("--store", o->store,
                  "Verify on the store itself, no server: sqlite:PATH or postgres://...");
    c->add_option("--public-key", o->public_key,
                  "The server's public key (hex, or a file holding it): every signed head must "
                  "be its signature");
    c->add_option("--witness", o->witness,
                  "The server's witness file (serve --witness): finds a tail cut with its heads");
    c->add_flag("--state", o->state,
                "Also compare the leases and jobs tables with what the chain recorded (--store)");
    c->add_option("--expect-head", o->expect_head,
                  "A head recorded earlier: it must still be in the chain (a cut tail fails)");
    add_connection(c, *o);
    c->callback([&context, o] { audit_verify(context, *o); });
  }
  {
    auto o = std::make_shared<ExportOptions>();
    CLI::App* c = audit->add_subcommand(
        "export",
        "Write the events of a time range, the signed heads that cover them and the public "
        "key to one JSON file (a compliance bundle)");
    c->add_option("--from", o->from, "From (ISO 8601 date or time)")->required();
    c->add_option("--to", o->to, "To, not included (ISO 8601 date or time)")->required();
    c->add_option("--out", o->out, "The bundle file to write")->required();
    c->add_option("--store", o->store, "Read the store itself, no server");
    c->add_option("--public-key", o->public_key,
                  "The key to name in the bundle (default: the one the heads name)");
    add_connection(c, *o);
    c->callback([&context, o] { audit_export(context, *o); });
  }
  {
    auto o = std::make_shared<BundleOptions>();
    CLI::App* c = audit->add_subcommand(
        "verify-bundle", "Check a bundle of `audit export` offline: no server, no database");
    c->add_option("bundle", o->bundle, "The bundle file")->required();
    c->add_option("--public-key", o->public_key,
                  "The operator's public key (hex, or a file): the bundle must be signed by it");
    c->add_flag("--json", o->json, "Print JSON for scripts");
    c->callback([&context, o] { audit_verify_bundle(context, *o); });
  }
}

}  // namespace straits::cli
