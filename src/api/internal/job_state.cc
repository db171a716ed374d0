#include "api/internal/job_state.h"

#include <array>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace straits::api::internal {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<JobState, const char*>, 7> kNames = {{
    {JobState::kQueued, "queued"},
    {JobState::kAssigned, "assigned"},
    {JobState::kRunning, "running"},
    {JobState::kCheckpointing, "checkpointing"},
    {JobState::kSucceeded, "succeeded"},
    {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
}};

json optional_text(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

json optional_integer(const std::optional<std::int64_t>& n) {
  return n ? json(*n) : json(nullptr);
}

// Reads the members of one JSON object, each of the type expected, and
// keeps the first thing wrong: a key missing, of another type, or one that
// nothing read (finish()).
class Reader {
 public:
  Reader(const json& object, std::string at) : object_(object), at_(std::move(at)) {}

  std::string text(const char* key) {
    const json* j = member(key, false);
    if (j && !j->is_string()) wrong(key, "a string");
    return j && j->is_string() ? j->get<std::string>() : "";
  }
  std::optional<std::string> text_or_null(const char* key) {
    const json* j = member(key, true);
    if (j && !j->is_string()) wrong(key, "a string or null");
    return j && j->is_string() ? std::optional(j->get<std::string>()) : std::nullopt;
  }
  std::int64_t integer(const char* key) {
    const json* j = member(key, false);
    if (j && !j->is_number_integer()) wrong(key, "an integer");
    return j && j->is_number_integer() ? j->get<std::int64_t>() : 0;
  }
  std::optional<std::int64_t> integer_or_null(const char* key) {
    const json* j = member(key, true);
    if (j && !j->is_number_integer()) wrong(key, "an integer or null");
    return j && j->is_number_integer() ? std::optional(j->get<std::int64_t>()) : std::nullopt;
  }
  bool boolean(const char* key) {
    const json* j = member(key, false);
    if (j && !j->is_boolean()) wrong(key, "true or false");
    return j && j->is_boolean() && j->get<bool>();
  }
  // The member when it is an object; nullptr when it is null (or wrong).
  const json* object_or_null(const char* key) {
    const json* j = member(key, true);
    if (j && !j->is_object()) wrong(key, "an object or null");
    return j && j->is_object() ? j : nullptr;
  }
  void adopt(const std::string& error) {
    if (error_.empty()) error_ = error;
  }
  // The first problem, a key nothing read included ("" when none).
  std::string finish() {
    for (const auto& item : object_.items()) {
      if (!read_.count(item.key())) {
        problem("has '" + item.key() + "', which this server does not know");
      }
    }
    return error_;
  }

 private:
  // The member `key` (nullptr when missing, or null and `nullable`).
  const json* member(const char* key, bool nullable) {
    read_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) {
      problem("has no '" + std::string(key) + "'");
      return nullptr;
    }
    return nullable && it->is_null() ? nullptr : &*it;
  }
  void wrong(const char* key, const char* want) {
    problem("has '" + std::string(key) + "' that is not " + want);
  }
  void problem(const std::string& what) {
    if (error_.empty()) error_ = at_ + " " + what;
  }

  const json& object_;
  std::string at_;
  std::set<std::string> read_;
  std::string error_;
};

Checkpoint read_checkpoint(Reader& outer, const json& j) {
  Reader in(j, "its checkpoint");
  Checkpoint c;
  c.path = in.text("path");
  c.note = in.text("note");
  c.attempt = in.integer("attempt");
  c.at = in.text("at");
  outer.adopt(in.finish());
  return c;
}

RunResult read_result(Reader& outer, const json& j) {
  Reader in(j, "its result");
  RunResult r;
  r.attempt = in.integer("attempt");
  r.outcome = in.text("outcome");
  r.exit_code = in.integer_or_null("exit_code");
  r.signal = in.integer_or_null("signal");
  r.detail = in.text("detail");
  r.log_tail = in.text("log_tail");
  r.at = in.text("at");
  outer.adopt(in.finish());
  return r;
}

}  // namespace

const char* to_string(JobState state) {
  for (const auto& [s, name] : kNames) {
    if (s == state) return name;
  }
  return "queued";  // unreachable: every state has a name
}

std::optional<JobState> parse_job_state(std::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (name == n) return s;
  }
  return std::nullopt;
}

bool placed_state(JobState s) {
  return s == JobState::kAssigned || s == JobState::kRunning || s == JobState::kCheckpointing;
}

bool final_state(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}

json checkpoint_json(const Checkpoint& c) {
  return {{"path", c.path}, {"note", c.note}, {"attempt", c.attempt}, {"at", c.at}};
}

json result_json(const RunResult& r) {
  return {{"attempt", r.attempt},
          {"outcome", r.outcome},
          {"exit_code", optional_integer(r.exit_code)},
          {"signal", optional_integer(r.signal)},
          {"detail", r.detail},
          {"log_tail", r.log_tail},
          {"at", r.at}};
}

std::string run_json(const std::optional<RunState>& run) {
  if (!run) return "";
  // An object's keys print sorted (nlohmann::json keeps them in a std::map):
  // the bytes do not depend on the order they are set in.
  json j = {{"attempt", run->attempt},
            {"agent", optional_text(run->agent)},
            {"handle", optional_text(run->handle)},
            {"started_at", optional_text(run->started_at)},
            {"active", run->active},
            {"stop", run->stop},
            {"stop_reason", run->stop_reason},
            {"checkpoint", run->checkpoint ? checkpoint_json(*run->checkpoint) : json(nullptr)},
            {"requeues", run->requeues},
            {"result", run->result ? result_json(*run->result) : json(nullptr)}};
  return j.dump();
}

Result<std::optional<RunState>> parse_run(std::string_view text) {
  if (text.empty()) return std::optional<RunState>();
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(ErrorCode::kInternal, "its run is not JSON");
  if (j.is_null()) return std::optional<RunState>();
  if (!j.is_object()) return Error(ErrorCode::kInternal, "its run is not an object");
  Reader in(j, "its run");
  RunState run;
  run.attempt = in.integer("attempt");
  run.agent = in.text_or_null("agent");
  run.handle = in.text_or_null("handle");
  run.started_at = in.text_or_null("started_at");
  run.active = in.boolean("active");
  run.stop = in.text("stop");
  run.stop_reason = in.text("stop_reason");
  if (const json* c = in.object_or_null("checkpoint")) run.checkpoint = read_checkpoint(in, *c);
  run.requeues = in.integer("requeues");
  if (const json* r = in.object_or_null("result")) run.result = read_result(in, *r);
  if (std::string problem = in.finish(); !problem.empty()) {
    return Error(ErrorCode::kInternal, problem);
  }
  return std::optional<RunState>(std::move(run));
}

}  // namespace straits::api::internal
