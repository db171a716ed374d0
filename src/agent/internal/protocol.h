// The agent's side of the wire protocol (docs/agents.md): what the server
// sends (the agent at registration and heartbeat, assignments) and what the
// agent sends (registration, heartbeats, reports), as plain structs, and
// their JSON texts. nlohmann::json stays in codec.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace straits::agent::internal {

// The agent as POST /v1/agents and the heartbeat answer it.
struct AgentInfo {
  std::string id;  // "ag-00000001"
  std::string state;
  std::int64_t heartbeat_interval_seconds = 5;
  std::int64_t lost_after_seconds = 30;
};

// One assignment of GET /v1/agents/{id}/assignments. Relative times
// (*_in_seconds) count from the moment the answer was received.
struct Assignment {
  std::string id;    // "JOB/ATTEMPT/KIND": the same assignment always has the same id
  std::string kind;  // start, checkpoint, stop, cancel
  std::string job;
  std::int32_t attempt = 0;
  // start
  std::string org;  // the job's org: its run user under --run-as-per-org ("" from older servers)
  std::string site, pool, chip, command, resume_from;
  std::int32_t gpus = 1, nodes = 1, gpus_per_node = 1;
  std::optional<std::int64_t> time_limit_seconds;     // null: no limit of its own
  std::optional<std::int64_t> must_leave_in_seconds;  // null: the placement has no end
  // checkpoint
  std::string then;  // "stop" or "" (go on after the checkpoint)
  std::optional<std::int64_t> deadline_in_seconds;
  std::string reason;
};

// One report of POST /v1/agents/{id}/reports. Which fields are sent depends
// on `event`: ack {assignment}, started {assignment, handle}, checkpoint
// {path, note}, log {text}, exited {assignment when it answers a start that
// could not launch, outcome, exit_code, signal, detail, log_tail}.
struct Report {
  std::string job;
  std::int32_t attempt = 0;
  std::string event;  // ack, started, checkpoint, log, exited
  std::string assignment;
  std::string handle;
  std::string path, note;  // checkpoint
  std::string text;        // log
  std::string outcome;     // exited: succeeded, failed, cancelled, timed_out, node_failure, lost
  std::optional<int> exit_code, signal;
  std::string detail, log_tail;

  friend bool operator==(const Report&, const Report&) = default;
};

// What became of one report (the answer's results[i]).
struct ReportResult {
  bool applied = true;
  std::string why;
};

// A run in a heartbeat: state "pending" or "running".
struct HeartbeatRun {
  std::string job;
  std::int32_t attempt = 0;
  std::string state;
};

std::string register_body(const std::string& name, const std::vector<std::string>& sites,
                          const std::string& backend, const std::string& version);
std::string heartbeat_body(const std::vector<HeartbeatRun>& runs);
// {"reports": [...]}. Text that is not valid UTF-8 (a log cut mid-way, a
// program's binary output) is sent with U+FFFD in place of the bad bytes.
std::string reports_body(std::span<const Report> reports);
// One report as a JSON object's text (also how the state file keeps them).
std::string report_json(const Report& report);

// Errors: kInvalidArgument naming what is missing or malformed.
Result<AgentInfo> parse_agent(std::string_view body);
Result<std::vector<Assignment>> parse_assignments(std::string_view body);
Result<std::vector<ReportResult>> parse_report_results(std::string_view body);

// The role of GET /v1/whoami's answer ("admin", "agent", ...).
// Errors: kInvalidArgument when the answer has none.
Result<std::string> parse_whoami_role(std::string_view body);

// An error answer of the server as "401 unauthenticated: MESSAGE (field F)",
// from {"error": {code, message, field}}; the start of the body otherwise.
std::string describe_error_answer(int status, std::string_view body);

// Replaces every byte of `text` that is not part of a valid UTF-8 sequence
// by '?' (the length stays: a report's size is known before it is sent).
void make_utf8(std::string& text);
// Cuts valid UTF-8 `text` to at most `max_bytes`, at a character boundary.
void cut_utf8(std::string& text, std::size_t max_bytes);

// The length of the longest prefix of `text` that does not end inside a
// UTF-8 sequence (a log chunk is cut there, the rest goes with the next).
std::size_t utf8_complete_prefix(std::string_view text);

}  // namespace straits::agent::internal
