// What an agent keeps across restarts (STATE/state.json): its id, the
// assignments it acted on (each is acted on at most once, ever), its runs and
// the reports not yet accepted by the server, in order.
//
// Deadlines are steady-clock times in memory (a wall clock that jumps does
// not move them) and the agent's wall-clock instants on disk; the
// conversion takes both clocks' "now" at the moment of writing or reading.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "agent/internal/protocol.h"
#include "core/error.h"
#include "core/time.h"
#include "exec/backend.h"

namespace straits::agent::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

// A checkpoint assignment in progress: waiting for the run's next checkpoint.
struct CheckpointWait {
  std::string assignment;
  bool then_stop = false;
  SteadyTime until;                        // the deadline minus the kill grace
  std::optional<exec::Checkpoint> before;  // the run's checkpoint when it was asked for one
  std::string reason;
};

struct RunRecord {
  std::string job;
  std::int32_t attempt = 0;
  std::string handle;  // the backend's; "" when the launch failed
  std::filesystem::path work_dir, checkpoint_dir;
  std::optional<exec::Checkpoint> last_checkpoint;  // the last one reported
  std::uint64_t output_offset = 0;                  // bytes of output.log reported
  std::string state = "pending";                    // last seen: pending, running
  bool ended = false;
  std::optional<Report> exited;  // once ended: sent again when the server asks about the run
  std::optional<SteadyTime> must_leave;  // the placement's hard end
  bool limit_is_placement = false;       // the backend's time limit is the placement's end
  bool stop_sent = false;                // the agent asked the backend to stop it
  // When the agent stopped it: why (the exited report's detail) and, for
  // self-fencing and an agent that stops, the outcome to report ("lost").
  std::string stop_detail;
  std::string forced_outcome;
  std::optional<CheckpointWait> checkpoint_wait;

  // Not kept on disk.
  std::optional<SteadyTime> ended_at;  // when this agent saw it end (or loaded it ended)
  SteadyTime last_log{};
  std::optional<SteadyTime> partial_line_since;
  std::string checkpoint_error;  // the last one logged, so that it is logged once
};

std::string run_key(const std::string& job, std::int32_t attempt);  // "JOB/ATTEMPT"

struct AgentState {
  std::string agent_id;                   // "" before the first registration
  std::set<std::string> done;             // assignment ids acted on
  std::map<std::string, RunRecord> runs;  // by run_key
  std::deque<Report> pending;             // reports not yet accepted, oldest first
};

// The state as the JSON text of state.json, and back. Errors: kInvalidArgument.
std::string state_to_text(const AgentState& state, SteadyTime steady_now, Instant wall_now);
Result<AgentState> state_from_text(std::string_view text, SteadyTime steady_now, Instant wall_now);

// Writes `text` to `path` (mode 0600) with straits::write_file_atomically,
// the folder created first if missing. A reader sees the old text or the
// new, never a mix. Errors: kInternal naming the file.
Status write_state_file(const std::filesystem::path& path, std::string_view text);
// nullopt when the file does not exist. Errors: kInternal (unreadable),
// kInvalidArgument (not a state file), naming the file.
Result<std::optional<AgentState>> load_state(const std::filesystem::path& path,
                                             SteadyTime steady_now, Instant wall_now);

}  // namespace straits::agent::internal
