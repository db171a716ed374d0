// JSON of the protocol (protocol.h) and of the state file (state.h): the one
// place of the agent that uses nlohmann::json. Reading is lenient about
// fields it does not know (a newer server may add some) and strict about the
// ones it needs.
#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>

#include "agent/internal/protocol.h"
#include "agent/internal/state.h"

namespace straits::agent::internal {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  // Output of programs is not always UTF-8: bad bytes become U+FFFD rather
  // than an exception.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> parse_object(std::string_view body, const char* what) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorCode::kInvalidArgument, std::string(what) + " is not a JSON object");
  }
  return j;
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A whole number that fits in 64 bits (a float is cut to one); none else.
std::optional<std::int64_t> integer_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!(d > -9.0e18 && d < 9.0e18)) return std::nullopt;  // NaN too
    return static_cast<std::int64_t>(d);
  }
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX) return std::nullopt;
  return it->get<std::int64_t>();
}

std::optional<std::int32_t> int32_of(const json& j, const char* key) {
  auto v = integer_of(j, key);
  if (!v || *v < INT32_MIN || *v > INT32_MAX) return std::nullopt;
  return static_cast<std::int32_t>(*v);
}

// Spans of time from the server or the state file are kept within ten
// years, so that adding them to a clock cannot overflow.
constexpr std::int64_t kMaxSeconds = 10LL * 366 * 86'400;

std::optional<std::int64_t> seconds_of(const json& j, const char* key) {
  auto v = integer_of(j, key);
  if (!v) return std::nullopt;
  return std::clamp<std::int64_t>(*v, 0, kMaxSeconds);
}

bool bool_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

json optional_int(const std::optional<int>& v) {
  return v ? json(*v) : json(nullptr);
}

json report_to(const Report& r) {
  json j = {{"job", r.job}, {"attempt", r.attempt}, {"event", r.event}};
  if (r.event == "ack" || r.event == "started" || !r.assignment.empty()) {
    j["assignment"] = r.assignment;
  }
  if (r.event == "started") j["handle"] = r.handle;
  if (r.event == "checkpoint") {
    j["path"] = r.path;
    if (!r.note.empty()) j["note"] = r.note;
  }
  if (r.event == "log") j["text"] = r.text;
  if (r.event == "exited") {
    j["outcome"] = r.outcome;
    j["exit_code"] = optional_int(r.exit_code);
    j["signal"] = optional_int(r.signal);
    j["detail"] = r.detail;
    j["log_tail"] = r.log_tail;
  }
  return j;
}

Result<Report> report_from(const json& j) {
  if (!j.is_object() || !j.contains("job") || !j.contains("event")) {
    return Error(ErrorCode::kInvalidArgument, "a report without job or event");
  }
  Report r;
  r.job = text_of(j, "job");
  r.attempt = int32_of(j, "attempt").value_or(0);
  r.event = text_of(j, "event");
  r.assignment = text_of(j, "assignment");
  r.handle = text_of(j, "handle");
  r.path = text_of(j, "path");
  r.note = text_of(j, "note");
  r.text = text_of(j, "text");
  r.outcome = text_of(j, "outcome");
  r.exit_code = int32_of(j, "exit_code");
  r.signal = int32_of(j, "signal");
  r.detail = text_of(j, "detail");
  r.log_tail = text_of(j, "log_tail");
  return r;
}

// Steady deadlines on disk as the agent's wall-clock time, in microseconds.
constexpr std::int64_t kMaxMicroseconds = kMaxSeconds * 1'000'000;

std::int64_t to_wall(SteadyTime t, SteadyTime steady_now, Instant wall_now) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t - steady_now).count();
  return (wall_now + Duration::microseconds(std::clamp(us, -kMaxMicroseconds, kMaxMicroseconds)))
      .unix_microseconds();
}

SteadyTime from_wall(std::int64_t unix_us, SteadyTime steady_now, Instant wall_now) {
  const std::int64_t now_us = wall_now.unix_microseconds();
  const std::int64_t at = std::clamp(unix_us, now_us - kMaxMicroseconds, now_us + kMaxMicroseconds);
  return steady_now + std::chrono::microseconds(at - now_us);
}

json checkpoint_to(const std::optional<exec::Checkpoint>& c) {
  if (!c) return nullptr;
  return json{{"path", c->path}, {"note", c->note}};
}

std::optional<exec::Checkpoint> checkpoint_from(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return std::nullopt;
  return exec::Checkpoint{text_of(*it, "path"), text_of(*it, "note")};
}

constexpr int kStateVersion = 1;

}  // namespace

std::string run_key(const std::string& job, std::int32_t attempt) {
  return job + "/" + std::to_string(attempt);
}

std::string register_body(const std::string& name, const std::vector<std::string>& sites,
                          const std::string& backend, const std::string& version) {
  return dump(json{{"name", name}, {"sites", sites}, {"backend", backend}, {"version", version}});
}

std::string heartbeat_body(const std::vector<HeartbeatRun>& runs) {
  json items = json::array();
  for (const HeartbeatRun& r : runs) {
    items.push_back({{"job", r.job}, {"attempt", r.attempt}, {"state", r.state}});
  }
  return dump(json{{"runs", items}});
}

std::string reports_body(std::span<const Report> reports) {
  json items = json::array();
  for (const Report& r : reports) items.push_back(report_to(r));
  return dump(json{{"reports", items}});
}

std::string report_json(const Report& report) {
  return dump(report_to(report));
}

Result<AgentInfo> parse_agent(std::string_view body) {
  STRAITS_ASSIGN_OR_RETURN(json j, parse_object(body, "the agent"));
  AgentInfo a;
  a.id = text_of(j, "id");
  if (a.id.empty()) return Error(ErrorCode::kInvalidArgument, "the agent has no id");
  a.state = text_of(j, "state");
  a.heartbeat_interval_seconds =
      std::clamp<std::int64_t>(integer_of(j, "heartbeat_interval_seconds").value_or(5), 1, 3600);
  a.lost_after_seconds =
      std::clamp<std::int64_t>(integer_of(j, "lost_after_seconds").value_or(30), 2, 7 * 86'400);
  return a;
}

Result<std::vector<Assignment>> parse_assignments(std::string_view body) {
  STRAITS_ASSIGN_OR_RETURN(json j, parse_object(body, "the assignments"));
  auto list = j.find("assignments");
  if (list == j.end() || !list->is_array()) {
    return Error(ErrorCode::kInvalidArgument, "the answer has no \"assignments\" list");
  }
  std::vector<Assignment> out;
  for (const json& item : *list) {
    if (!item.is_object()) {
      return Error(ErrorCode::kInvalidArgument, "an assignment is not a JSON object");
    }
    Assignment a;
    a.id = text_of(item, "id");
    a.kind = text_of(item, "kind");
    a.job = text_of(item, "job");
    const auto attempt = int32_of(item, "attempt");
    if (a.id.empty() || a.kind.empty() || a.job.empty() || !attempt) {
      return Error(ErrorCode::kInvalidArgument,
                   "an assignment without id, kind, job or attempt: " + dump(item));
    }
    a.attempt = *attempt;
    a.org = text_of(item, "org");
    a.site = text_of(item, "site");
    a.pool = text_of(item, "pool");
    a.chip = text_of(item, "chip");
    a.command = text_of(item, "command");
    a.resume_from = text_of(item, "resume_from");
    a.gpus = int32_of(item, "gpus").value_or(1);
    a.nodes = int32_of(item, "nodes").value_or(1);
    a.gpus_per_node = int32_of(item, "gpus_per_node").value_or(a.gpus);
    a.time_limit_seconds = seconds_of(item, "time_limit_seconds");
    a.must_leave_in_seconds = seconds_of(item, "must_leave_in_seconds");
    a.then = text_of(item, "then");
    a.deadline_in_seconds = seconds_of(item, "deadline_in_seconds");
    a.reason = text_of(item, "reason");
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::string> parse_whoami_role(std::string_view body) {
  STRAITS_ASSIGN_OR_RETURN(json j, parse_object(body, "GET /v1/whoami's answer"));
  std::string role = text_of(j, "role");
  if (role.empty()) {
    return Error(ErrorCode::kInvalidArgument, "GET /v1/whoami's answer names no role: " + dump(j));
  }
  return role;
}

Result<std::vector<ReportResult>> parse_report_results(std::string_view body) {
  STRAITS_ASSIGN_OR_RETURN(json j, parse_object(body, "the reports' answer"));
  std::vector<ReportResult> out;
  auto list = j.find("results");
  if (list == j.end() || !list->is_array()) return out;
  for (const json& item : *list) {
    ReportResult r;
    if (item.is_object()) {
      auto applied = item.find("applied");
      r.applied = applied == item.end() || !applied->is_boolean() || applied->get<bool>();
      r.why = text_of(item, "why");
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string describe_error_answer(int status, std::string_view body) {
  std::string text = std::to_string(status);
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    const std::string code = text_of(e, "code");
    if (!code.empty()) text += " " + code;
    text += ": " + text_of(e, "message");
    const std::string field = text_of(e, "field");
    if (!field.empty()) text += " (field " + field + ")";
    return text;
  }
  if (!body.empty()) text += ": " + std::string(body.substr(0, 200));
  return text;
}

std::size_t utf8_complete_prefix(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    std::size_t length = 1;
    if ((byte & 0xE0) == 0xC0)
      length = 2;
    else if ((byte & 0xF0) == 0xE0)
      length = 3;
    else if ((byte & 0xF8) == 0xF0)
      length = 4;
    return back < length ? n - back : n;
  }
  return n;  // no lead byte in reach: not UTF-8 anyway, sent as it is
}

void make_utf8(std::string& text) {
  const std::size_t n = text.size();
  auto at = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  auto cont = [&](std::size_t i) { return i < n && (at(i) & 0xC0) == 0x80; };
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b = at(i);
    std::size_t length = 0;  // 0: invalid here
    if (b < 0x80) {
      length = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      length = cont(i + 1) ? 2 : 0;
    } else if (b >= 0xE0 && b <= 0xEF) {
      const bool second = i + 1 < n && (b == 0xE0   ? at(i + 1) >= 0xA0 && at(i + 1) <= 0xBF
                                        : b == 0xED ? at(i + 1) >= 0x80 && at(i + 1) <= 0x9F
                                                    : cont(i + 1));
      length = second && cont(i + 2) ? 3 : 0;
    } else if (b >= 0xF0 && b <= 0xF4) {
      const bool second = i + 1 < n && (b == 0xF0   ? at(i + 1) >= 0x90 && at(i + 1) <= 0xBF
                                        : b == 0xF4 ? at(i + 1) >= 0x80 && at(i + 1) <= 0x8F
                                                    : cont(i + 1));
      length = second && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    if (length == 0) {
      text[i] = '?';
      length = 1;
    }
    i += length;
  }
}

void cut_utf8(std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return;
  text.resize(max_bytes);
  text.resize(utf8_complete_prefix(text));
}

std::string state_to_text(const AgentState& state, SteadyTime steady_now, Instant wall_now) {
  json runs = json::array();
  for (const auto& [key, r] : state.runs) {
    json j = {{"job", r.job},
              {"attempt", r.attempt},
              {"handle", r.handle},
              {"work_dir", r.work_dir.string()},
              {"checkpoint_dir", r.checkpoint_dir.string()},
              {"last_checkpoint", checkpoint_to(r.last_checkpoint)},
              {"output_offset", r.output_offset},
              {"state", r.state},
              {"ended", r.ended},
              {"stop_sent", r.stop_sent},
              {"limit_is_placement", r.limit_is_placement},
              {"stop_detail", r.stop_detail},
              {"forced_outcome", r.forced_outcome}};
    j["exited"] = r.exited ? report_to(*r.exited) : json(nullptr);
    j["must_leave_at_us"] =
        r.must_leave ? json(to_wall(*r.must_leave, steady_now, wall_now)) : json(nullptr);
    if (r.checkpoint_wait) {
      const CheckpointWait& w = *r.checkpoint_wait;
      j["checkpoint_wait"] = {{"assignment", w.assignment},
                              {"then_stop", w.then_stop},
                              {"until_us", to_wall(w.until, steady_now, wall_now)},
                              {"before", checkpoint_to(w.before)},
                              {"reason", w.reason}};
    } else {
      j["checkpoint_wait"] = nullptr;
    }
    runs.push_back(std::move(j));
  }
  json pending = json::array();
  for (const Report& r : state.pending) pending.push_back(report_to(r));
  json j = {{"version", kStateVersion},
            {"agent_id", state.agent_id},
            {"done", state.done},
            {"runs", runs},
            {"pending_reports", pending}};
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<AgentState> state_from_text(std::string_view text, SteadyTime steady_now, Instant wall_now) {
  STRAITS_ASSIGN_OR_RETURN(json j, parse_object(text, "the state"));
  if (integer_of(j, "version").value_or(0) != kStateVersion) {
    return Error(ErrorCode::kInvalidArgument,
                 "the state is of version " + std::to_string(integer_of(j, "version").value_or(0)) +
                     ", this agent reads version " + std::to_string(kStateVersion));
  }
  AgentState state;
  state.agent_id = text_of(j, "agent_id");
  if (auto done = j.find("done"); done != j.end() && done->is_array()) {
    for (const json& id : *done) {
      if (id.is_string()) state.done.insert(id.get<std::string>());
    }
  }
  if (auto runs = j.find("runs"); runs != j.end() && runs->is_array()) {
    for (const json& item : *runs) {
      if (!item.is_object()) return Error(ErrorCode::kInvalidArgument, "a run is not an object");
      RunRecord r;
      r.job = text_of(item, "job");
      r.attempt = int32_of(item, "attempt").value_or(0);
      if (r.job.empty() || r.attempt <= 0) {
        return Error(ErrorCode::kInvalidArgument, "a run without job or attempt");
      }
      r.handle = text_of(item, "handle");
      r.work_dir = text_of(item, "work_dir");
      r.checkpoint_dir = text_of(item, "checkpoint_dir");
      r.last_checkpoint = checkpoint_from(item, "last_checkpoint");
      r.output_offset = static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, integer_of(item, "output_offset").value_or(0)));
      r.state = text_of(item, "state");
      r.ended = bool_of(item, "ended");
      r.stop_sent = bool_of(item, "stop_sent");
      r.limit_is_placement = bool_of(item, "limit_is_placement");
      r.stop_detail = text_of(item, "stop_detail");
      r.forced_outcome = text_of(item, "forced_outcome");
      if (auto e = item.find("exited"); e != item.end() && e->is_object()) {
        STRAITS_ASSIGN_OR_RETURN(r.exited, report_from(*e));
      }
      if (auto at = integer_of(item, "must_leave_at_us")) {
        r.must_leave = from_wall(*at, steady_now, wall_now);
      }
      if (auto w = item.find("checkpoint_wait"); w != item.end() && w->is_object()) {
        CheckpointWait wait;
        wait.assignment = text_of(*w, "assignment");
        wait.then_stop = bool_of(*w, "then_stop");
        wait.until = from_wall(integer_of(*w, "until_us").value_or(0), steady_now, wall_now);
        wait.before = checkpoint_from(*w, "before");
        wait.reason = text_of(*w, "reason");
        r.checkpoint_wait = std::move(wait);
      }
      const std::string key = run_key(r.job, r.attempt);
      state.runs[key] = std::move(r);
    }
  }
  if (auto pending = j.find("pending_reports"); pending != j.end() && pending->is_array()) {
    for (const json& item : *pending) {
      STRAITS_ASSIGN_OR_RETURN(Report r, report_from(item));
      state.pending.push_back(std::move(r));
    }
  }
  return state;
}

}  // namespace straits::agent::internal
