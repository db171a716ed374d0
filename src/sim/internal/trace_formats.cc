#include "sim/internal/trace_formats.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>

#include "core/time.h"
#include "sim/internal/text.h"

namespace straits::sim::internal {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A finite number, or nothing.
std::optional<double> number(std::string_view text) {
  auto value = parse_number<double>(trim(text));
  if (value && std::isfinite(*value)) return value;
  return std::nullopt;
}

std::optional<long long> integer(std::string_view text) {
  return parse_number<long long>(trim(text));
}

std::string shown(std::string_view text) {
  std::string out(text.substr(0, 40));
  if (text.size() > 40) out += "...";
  return "'" + out + "'";
}

// Seconds since the Unix epoch of "YYYY-MM-DD HH:MM:SS" (the traces' form,
// taken as UTC), of any ISO 8601 instant, or of a number of seconds.
std::optional<double> epoch_seconds(std::string_view text) {
  text = trim(text);
  if (auto n = number(text)) return n;
  std::string iso(text);
  if (iso.size() >= 19 && iso[10] == ' ') iso[10] = 'T';
  const bool has_zone =
      iso.size() > 19 && (iso.back() == 'Z' || iso.find('+', 19) != std::string::npos ||
                          iso.find('-', 19) != std::string::npos);
  if (!has_zone) iso += 'Z';
  auto instant = parse_instant(iso);
  if (!instant) return std::nullopt;
  return static_cast<double>(instant->unix_microseconds()) / 1e6;
}

// Column positions by name, from a header.
class Columns {
 public:
  void read(const std::vector<std::string_view>& names) {
    index_.clear();
    for (std::size_t i = 0; i < names.size(); ++i) index_.emplace(lower(trim(names[i])), i);
  }
  // The first of `aliases` present.
  std::optional<std::size_t> find(std::initializer_list<const char*> aliases) const {
    for (const char* name : aliases) {
      auto it = index_.find(name);
      if (it != index_.end()) return it->second;
    }
    return std::nullopt;
  }

 private:
  std::map<std::string, std::size_t> index_;
};

std::string_view cell(const std::vector<std::string_view>& fields, std::optional<std::size_t> at) {
  return at && *at < fields.size() ? trim(fields[*at]) : std::string_view();
}

// --- Alibaba cluster-trace-gpu-v2023: openb pod lists -------------------------

class AlibabaOpenb final : public RowFormat {
 public:
  Status header(const std::vector<std::string_view>& names,
                std::vector<std::string>& assumptions) override {
    Columns c;
    c.read(names);
    name_ = c.find({"name"});
    num_gpu_ = c.find({"num_gpu"});
    gpu_milli_ = c.find({"gpu_milli"});
    gpu_spec_ = c.find({"gpu_spec"});
    qos_ = c.find({"qos"});
    phase_ = c.find({"pod_phase"});
    creation_ = c.find({"creation_time"});
    deletion_ = c.find({"deletion_time"});
    scheduled_ = c.find({"scheduled_time"});
    std::vector<std::string> missing;
    if (!num_gpu_) missing.push_back("'num_gpu' (the GPUs of a pod)");
    if (!creation_) missing.push_back("'creation_time' (the arrival time)");
    if (!deletion_) missing.push_back("'deletion_time' (the end of the run)");
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      return Error(ErrorCode::kInvalidArgument,
                   "missing column " + list + ": not an alibaba-openb pod list (columns " +
                       "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase," +
                       "creation_time,deletion_time,scheduled_time)");
    }
    if (!scheduled_) {
      assumptions.push_back(
          "no 'scheduled_time' column: start times are unknown; runs are taken to start at "
          "creation_time (no queueing)");
    }
    if (!gpu_milli_) assumptions.push_back("no 'gpu_milli' column: every GPU is a whole GPU");
    if (!gpu_spec_) assumptions.push_back("no 'gpu_spec' column: pods may use any GPU model");
    if (!name_) assumptions.push_back("no 'name' column: pods are named by their line");
    return ok();
  }

  RowOutcome row(const std::vector<std::string_view>& f, TraceJob& job) override {
    job.id = std::string(cell(f, name_));
    if (job.id.empty()) {
      if (name_) return RowOutcome::bad("empty 'name'");
      job.id = "pod-line-" + std::to_string(job.line);
    }
    auto gpus = integer(cell(f, num_gpu_));
    if (!gpus || *gpus < 0 || *gpus > 4096) {
      return RowOutcome::bad("'num_gpu' must be an integer from 0 to 4096, got " +
                             shown(cell(f, num_gpu_)));
    }
    if (*gpus == 0) return RowOutcome::skip("no GPU (a CPU-only pod)");
    job.gpus = static_cast<double>(*gpus);
    if (gpu_milli_ && !cell(f, gpu_milli_).empty()) {
      auto milli = integer(cell(f, gpu_milli_));
      if (!milli || *milli <= 0 || *milli > 1000) {
        return RowOutcome::bad("'gpu_milli' must be an integer from 1 to 1000, got " +
                               shown(cell(f, gpu_milli_)));
      }
      if (*gpus == 1) job.gpus = static_cast<double>(*milli) / 1000.0;
    }
    auto created = number(cell(f, creation_));
    if (!created || *created < 0) {
      return RowOutcome::bad("'creation_time' must be seconds >= 0, got " +
                             shown(cell(f, creation_)));
    }
    job.submit_s = *created;
    job.state = lower(cell(f, phase_));
    job.group = std::string(cell(f, qos_));
    std::string_view scheduled_text = cell(f, scheduled_);
    double start = *created;
    if (scheduled_) {
      if (scheduled_text.empty()) return RowOutcome::skip("never scheduled in the trace");
      auto scheduled = number(scheduled_text);
      if (!scheduled || *scheduled < *created) {
        return RowOutcome::bad("'scheduled_time' must be seconds >= creation_time, got " +
                               shown(scheduled_text));
      }
      start = *scheduled;
      job.start_s = start;
    }
    auto deleted = number(cell(f, deletion_));
    if (!deleted || *deleted < start) {
      return RowOutcome::bad("'deletion_time' must be seconds >= the start, got " +
                             shown(cell(f, deletion_)));
    }
    job.duration_s = *deleted - start;
    if (job.duration_s <= 0) return RowOutcome::skip("ran for no time");
    job.gpu_models.clear();
    std::string_view spec = cell(f, gpu_spec_);
    while (!spec.empty()) {
      std::size_t bar = spec.find('|');
      std::string_view model = trim(spec.substr(0, bar));
      if (model.empty()) return RowOutcome::bad("'gpu_spec' has an empty model");
      job.gpu_models.emplace_back(model);
      if (bar == std::string_view::npos) break;
      spec.remove_prefix(bar + 1);
    }
    return RowOutcome::job();
  }

  std::string time_origin() const override { return "second 0 of the openb trace"; }
  std::vector<std::string> format_assumptions() const override {
    return {
        "pods still running at the end of the trace (deletion_time = its end) count as "
        "having run until then"};
  }

 private:
  std::optional<std::size_t> name_, num_gpu_, gpu_milli_, gpu_spec_, qos_, phase_, creation_,
      deletion_, scheduled_;
};

// --- Alibaba cluster-trace-gpu-v2020: pai_task_table --------------------------

// job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type,
// headerless. plan_gpu is in percent of one GPU per instance.
class AlibabaPai final : public RowFormat {
 public:
  bool has_header() const override { return false; }
  Status header(const std::vector<std::string_view>&, std::vector<std::string>&) override {
    return ok();
  }
  bool is_header_line(const std::vector<std::string_view>& fields) const override {
    return !fields.empty() && trim(fields[0]) == "job_name";
  }

  RowOutcome row(const std::vector<std::string_view>& f, TraceJob& job) override {
    if (f.size() != 10) {
      return RowOutcome::bad("expected the 10 fields of pai_task_table (job_name,task_name," +
                             std::string("inst_num,status,start_time,end_time,plan_cpu,plan_mem,") +
                             "plan_gpu,gpu_type), got " + std::to_string(f.size()));
    }
    std::string_view job_name = trim(f[0]), task = trim(f[1]);
    if (job_name.empty()) return RowOutcome::bad("empty 'job_name'");
    job.id = std::string(job_name) + "/" + std::string(task);
    job.state = lower(trim(f[3]));
    if (job.state == "terminated") job.state = "completed";
    std::string_view plan_gpu = trim(f[8]);
    if (plan_gpu.empty()) return RowOutcome::skip("no GPU (a CPU-only task)");
    auto percent = number(plan_gpu);
    if (!percent || *percent < 0) {
      return RowOutcome::bad("'plan_gpu' must be a number >= 0, got " + shown(plan_gpu));
    }
    if (*percent == 0) return RowOutcome::skip("no GPU (a CPU-only task)");
    // Written as floats ("1.0") in the released files.
    auto instances = number(trim(f[2]));
    if (!instances || *instances < 1 || *instances > 100000 ||
        *instances != std::floor(*instances)) {
      return RowOutcome::bad("'inst_num' must be a whole number >= 1, got " + shown(f[2]));
    }
    job.gpus = *instances * *percent / 100.0;
    // 0 stands for "not recorded" in the released tables.
    if (trim(f[4]).empty() || number(f[4]) == 0.0) {
      return RowOutcome::skip("never started in the trace");
    }
    if (trim(f[5]).empty()) return RowOutcome::skip("no end time (still running at the end)");
    auto start = number(f[4]), end = number(f[5]);
    if (!start || *start < 0) return RowOutcome::bad("bad 'start_time' " + shown(f[4]));
    if (!end || *end < *start) {
      return RowOutcome::bad("'end_time' must be seconds >= start_time, got " + shown(f[5]));
    }
    job.submit_s = *start;  // the table has no submit time, so no start time to compare
    job.duration_s = *end - *start;
    if (job.duration_s <= 0) return RowOutcome::skip("ran for no time");
    job.group = std::string(task);
    job.gpu_models.clear();
    std::string_view type = trim(f[9]);
    if (!type.empty() && type != "MISC") job.gpu_models.emplace_back(type);
    return RowOutcome::job();
  }

  std::string time_origin() const override { return "second 0 of the PAI trace"; }
  std::vector<std::string> format_assumptions() const override {
    return {
        "pai_task_table records no submit time: each task arrives at its start_time (the "
        "trace's queueing is not replayed)",
        "a task is one job: inst_num instances x plan_gpu/100 GPUs each"};
  }
};

// --- Gavel: tab-separated traces ------------------------------------------------

class Gavel final : public RowFormat {
 public:
  static Result<std::unique_ptr<RowFormat>> make(const TraceReadOptions& options) {
    if (!options.gavel_throughputs) {
      return Error(ErrorCode::kInvalidArgument,
                   "gavel traces record steps, not time: give the throughput table "
                   "(gavel_isolated_throughputs.csv, --throughputs FILE) that turns steps into "
                   "seconds");
    }
    auto format = std::unique_ptr<Gavel>(new Gavel(options.gavel_worker));
    STRAITS_TRY(format->load(*options.gavel_throughputs));
    return std::unique_ptr<RowFormat>(std::move(format));
  }

  char separator() const override { return '\t'; }
  bool has_header() const override { return false; }
  Status header(const std::vector<std::string_view>&, std::vector<std::string>&) override {
    return ok();
  }

  RowOutcome row(const std::vector<std::string_view>& f, TraceJob& job) override {
    // msr: job_type, command, num_steps_arg, needs_data_dir, total_steps, arrival_time_s,
    // scale_factor. physical_cluster: job_type, command, working_directory, num_steps_arg,
    // needs_data_dir, total_steps, scale_factor, priority_weight, SLO, arrival_time.
    std::size_t steps_at, arrival_at, scale_at;
    if (f.size() == 7) {
      steps_at = 4, arrival_at = 5, scale_at = 6;
    } else if (f.size() == 10) {
      steps_at = 5, arrival_at = 9, scale_at = 6;
    } else {
      return RowOutcome::bad(
          "expected 7 (msr) or 10 (physical_cluster) tab-separated fields, got " +
          std::to_string(f.size()));
    }
    std::string_view type = trim(f[0]);
    if (type.empty()) return RowOutcome::bad("empty job type");
    auto steps = number(f[steps_at]);
    if (!steps || *steps <= 0) {
      return RowOutcome::bad("total_steps must be a number > 0, got " + shown(f[steps_at]));
    }
    auto arrival = number(f[arrival_at]);
    if (!arrival || *arrival < 0) {
      return RowOutcome::bad("arrival time must be seconds >= 0, got " + shown(f[arrival_at]));
    }
    auto scale = integer(f[scale_at]);
    if (!scale || *scale < 1 || *scale > 4096) {
      return RowOutcome::bad("scale_factor must be an integer from 1 to 4096, got " +
                             shown(f[scale_at]));
    }
    auto speed = steps_per_second(std::string(type), static_cast<int>(*scale));
    if (!speed) {
      return RowOutcome::bad("job type '" + std::string(type) +
                             "' is not in the throughput table for " + worker_ + " GPUs");
    }
    job.model = std::string(type);
    job.gpus = static_cast<double>(*scale);
    job.submit_s = *arrival;
    job.start_s.reset();
    job.duration_s = *steps / *speed;
    job.gpu_models.clear();
    job.state.clear();
    if (job.file != file_) {  // a file's name is its virtual cluster: worked out once a file
      file_ = job.file;
      stem_ = std::filesystem::path(file_).stem().string();
    }
    job.group = stem_;
    job.id = job.group + "-" + std::to_string(job.line);
    return RowOutcome::job();
  }

  std::string time_origin() const override { return "second 0 of the Gavel trace"; }
  std::vector<std::string> format_assumptions() const override {
    std::vector<std::string> out{
        "durations are total_steps / the isolated throughput of " + worker_ +
            " GPUs for the job type and scale factor (Gavel's throughput table); the run ran on " +
            worker_ + " GPUs",
        "a folder's traces are one per virtual cluster: a job's group is its file's name"};
    return out;
  }
  std::vector<std::string> row_assumptions() const override {
    if (extrapolated_ == 0) return {};
    return {std::to_string(extrapolated_) +
            " jobs have a scale factor the table lacks: their throughput is extrapolated "
            "linearly from the largest smaller scale factor of their job type"};
  }

 private:
  explicit Gavel(std::string worker) : worker_(std::move(worker)) {}

  Status load(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) {
      return Error(ErrorCode::kNotFound, "cannot read the Gavel throughput table " + file.string());
    }
    std::string line;
    int n = 0;
    Diagnostics diagnostics;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (n == 1 || is_blank(line)) continue;
      // worker_type,job_type,scale_factor,throughput; job types hold no commas.
      std::vector<std::string_view> f;
      std::string_view rest = line;
      for (std::size_t comma; (comma = rest.find(',')) != std::string_view::npos;) {
        f.push_back(rest.substr(0, comma));
        rest.remove_prefix(comma + 1);
      }
      f.push_back(rest);
      auto scale = f.size() == 4 ? integer(f[2]) : std::nullopt;
      auto tput = f.size() == 4 ? number(f[3]) : std::nullopt;
      if (!scale || !tput || *tput < 0) {
        diagnostics.add({file.string(), n, 0},
                        "expected worker_type,job_type,scale_factor,throughput with a "
                        "throughput >= 0");
        continue;
      }
      // 0 marks a configuration Gavel could not run (out of memory): not a speed.
      if (trim(f[0]) == worker_ && *tput > 0) {
        table_[{std::string(trim(f[1])), static_cast<int>(*scale)}] = *tput;
      }
    }
    if (!diagnostics.empty()) return diagnostics.to_error("bad Gavel throughput table");
    if (table_.empty()) {
      return Error(ErrorCode::kInvalidArgument, "the Gavel throughput table " + file.string() +
                                                    " has no rows for worker '" + worker_ + "'");
    }
    return ok();
  }

  // Steps per second of a job type on `scale` GPUs; a scale the table lacks
  // is extrapolated linearly from the largest smaller one it has.
  std::optional<double> steps_per_second(const std::string& type, int scale) {
    auto it = table_.upper_bound({type, scale});
    if (it == table_.begin()) return std::nullopt;
    --it;
    if (it->first.first != type) return std::nullopt;
    if (it->first.second != scale) ++extrapolated_;
    return it->second * scale / it->first.second;
  }

  std::string worker_;
  std::string file_, stem_;  // the file being read and its name without extension
  std::map<std::pair<std::string, int>, double> table_;
  std::size_t extrapolated_ = 0;
};

// --- Helios and Acme: job logs with a header -------------------------------------

// Both logs have one row per job with a header naming its columns; they
// differ in names, so each column is found by its known aliases.
class JobLog final : public RowFormat {
 public:
  explicit JobLog(TraceFormat format) : format_(format) {}

  Status header(const std::vector<std::string_view>& names,
                std::vector<std::string>& assumptions) override {
    Columns c;
    c.read(names);
    id_ = c.find({"job_id", "jobid", "id"});
    user_ = c.find({"user", "user_id"});
    group_ = c.find({"vc", "virtual_cluster"});  // Acme's 'queue' is a queueing time
    gpus_ = c.find({"gpu_num", "num_gpu", "gpus"});
    state_ = c.find({"state", "status"});
    submit_ = c.find({"submit_time", "submit"});
    start_ = c.find({"start_time", "start"});
    end_ = c.find({"end_time", "end"});
    duration_ = c.find({"duration", "run_time", "runtime"});
    type_ = c.find({"type", "workload"});
    std::vector<std::string> missing;
    if (!submit_) missing.push_back("'submit_time' (the arrival time)");
    if (!gpus_) missing.push_back("'gpu_num' (the GPUs of a job)");
    if (!duration_ && !(start_ && end_)) {
      missing.push_back("'duration', or 'start_time' and 'end_time' (the run time)");
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      return Error(ErrorCode::kInvalidArgument, "missing column " + list + ": not a " +
                                                    std::string(trace_format_name(format_)) +
                                                    " job log");
    }
    if (!start_) {
      assumptions.push_back("no 'start_time' column: start times are unknown (no queueing)");
    }
    if (!id_) assumptions.push_back("no 'job_id' column: jobs are named by their line");
    return ok();
  }

  RowOutcome row(const std::vector<std::string_view>& f, TraceJob& job) override {
    job.id = std::string(cell(f, id_));
    if (job.id.empty()) job.id = "job-line-" + std::to_string(job.line);
    job.user = std::string(cell(f, user_));
    job.group = std::string(cell(f, group_));
    job.state = lower(cell(f, state_));
    job.model = std::string(cell(f, type_));
    auto gpus = number(cell(f, gpus_));
    if (!gpus || *gpus < 0 || *gpus > 100000) {
      return RowOutcome::bad("'gpu_num' must be a number from 0 to 100000, got " +
                             shown(cell(f, gpus_)));
    }
    if (*gpus == 0) return RowOutcome::skip("no GPU (a CPU-only job)");
    job.gpus = *gpus;
    auto submit = epoch_seconds(cell(f, submit_));
    if (!submit) {
      return RowOutcome::bad("'submit_time' must be a date-time or seconds, got " +
                             shown(cell(f, submit_)));
    }
    job.submit_s = *submit;
    job.start_s.reset();
    std::string_view start_text = cell(f, start_), end_text = cell(f, end_);
    if (start_ && start_text.empty()) return RowOutcome::skip("never started in the trace");
    if (start_) {
      auto start = epoch_seconds(start_text);
      if (!start || *start < *submit) {
        return RowOutcome::bad("'start_time' must be a date-time not before submit_time, got " +
                               shown(start_text));
      }
      job.start_s = *start;
    }
    // end - start where both are given: Acme's Kalos log writes end - submit
    // as its 'duration' (docs/traces.md).
    std::optional<double> duration;
    if (start_ && end_ && !end_text.empty()) {
      auto end = epoch_seconds(end_text);
      if (!end || *end < *job.start_s) {
        return RowOutcome::bad("'end_time' must be a date-time not before start_time, got " +
                               shown(end_text));
      }
      duration = *end - *job.start_s;
    } else if (duration_ && !cell(f, duration_).empty()) {
      duration = number(cell(f, duration_));
      if (!duration || *duration < 0) {
        return RowOutcome::bad("'duration' must be seconds >= 0, got " + shown(cell(f, duration_)));
      }
    } else {
      return RowOutcome::skip("no run time (no duration or end time)");
    }
    job.duration_s = *duration;
    if (job.duration_s <= 0) return RowOutcome::skip("ran for no time");
    job.gpu_models.clear();
    return RowOutcome::job();
  }

  std::string time_origin() const override {
    return "1970-01-01T00:00:00Z (the trace's date-times; without a zone, taken as UTC)";
  }
  bool times_are_dates() const override { return true; }

 private:
  TraceFormat format_;
  std::optional<std::size_t> id_, user_, group_, gpus_, state_, submit_, start_, end_, duration_,
      type_;
};

}  // namespace

Result<std::unique_ptr<RowFormat>> make_row_format(TraceFormat format,
                                                   const TraceReadOptions& options) {
  switch (format) {
    case TraceFormat::kAlibabaOpenb: return std::unique_ptr<RowFormat>(new AlibabaOpenb());
    case TraceFormat::kAlibabaPai: return std::unique_ptr<RowFormat>(new AlibabaPai());
    case TraceFormat::kGavel: return Gavel::make(options);
    case TraceFormat::kHelios:
    case TraceFormat::kAcme: return std::unique_ptr<RowFormat>(new JobLog(format));
    case TraceFormat::kNative: break;
  }
  return Error(ErrorCode::kInvalidArgument, "native workloads are read by sim/workload.h");
}

}  // namespace straits::sim::internal
