// A job's state and its runs at site agents, typed (issue 16). The store
// keeps them as a string and a JSON column (store::JobRecord::state and
// run_json); they are converted only where a record is read from or written
// to the store, and where the API prints a job, so the bytes on disk and on
// the wire are those the server always wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace straits::api::internal {

// docs/api.md: queued -> assigned -> running -> (checkpointing ->) queued
// again, or one of the final states.
enum class JobState {
  kQueued,
  kAssigned,
  kRunning,
  kCheckpointing,
  kSucceeded,
  kFailed,
  kCancelled
};

// Every state, in the order above (metrics list them so).
inline constexpr JobState kJobStates[] = {
    JobState::kQueued,    JobState::kAssigned, JobState::kRunning,  JobState::kCheckpointing,
    JobState::kSucceeded, JobState::kFailed,   JobState::kCancelled};

// The name on the wire and in the store ("queued", ...).
const char* to_string(JobState state);
// The state a name names; nullopt for anything else.
std::optional<JobState> parse_job_state(std::string_view name);

bool placed_state(JobState state);  // assigned, running, checkpointing
bool final_state(JobState state);   // succeeded, failed, cancelled

// The last checkpoint an agent reported (run_json "checkpoint").
struct Checkpoint {
  std::string path, note;
  std::int64_t attempt = 0;
  std::string at;  // ISO 8601, as it was written

  bool operator==(const Checkpoint&) const = default;
};

// How the last run ended (run_json "result").
struct RunResult {
  std::int64_t attempt = 0;
  std::string outcome;  // succeeded, failed, cancelled, timed_out, node_failure, lost
  std::optional<std::int64_t> exit_code, signal;
  std::string detail, log_tail;
  std::string at;

  bool operator==(const RunResult&) const = default;
};

// The runs of a job (run_json, docs/agents.md): the current attempt, where
// it runs, whether a stop was asked, and what outlives an attempt (requeues,
// the last checkpoint, the last result).
struct RunState {
  std::int64_t attempt = 0;
  std::optional<std::string> agent;       // the agent that started it (null before)
  std::optional<std::string> handle;      // the agent's name for the run
  std::optional<std::string> started_at;  // ISO 8601
  bool active = false;                    // a run of the attempt may be going
  std::string stop;                       // "", "stop" or "cancel"
  std::string stop_reason;
  std::optional<Checkpoint> checkpoint;
  std::int64_t requeues = 0;
  std::optional<RunResult> result;

  bool operator==(const RunState&) const = default;
};

// The run_json of a run: "" for none (before the first placement).
std::string run_json(const std::optional<RunState>& run);
// The run of a run_json: "" and "null" are none. Anything but an object of
// exactly the keys run_json() writes, each of its type, is an error that
// names the key: a run the server cannot read whole is not half-read (and
// then written back without what it did not understand).
Result<std::optional<RunState>> parse_run(std::string_view text);

nlohmann::json checkpoint_json(const Checkpoint& c);
nlohmann::json result_json(const RunResult& r);

}  // namespace straits::api::internal
