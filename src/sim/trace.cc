#include "sim/trace.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "core/strings.h"
#include "sim/internal/csv.h"
#include "sim/internal/stats.h"
#include "sim/internal/text.h"
#include "sim/internal/trace_formats.h"
#include "sim/workload.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;

struct FormatName {
  TraceFormat format;
  const char* name;
};
constexpr FormatName kFormatNames[] = {
    {TraceFormat::kAlibabaOpenb, "alibaba-openb"},
    {TraceFormat::kAlibabaPai, "alibaba-pai"},
    {TraceFormat::kGavel, "gavel"},
    {TraceFormat::kHelios, "helios"},
    {TraceFormat::kAcme, "acme"},
    {TraceFormat::kNative, "native"},
};

// The files of a trace: the file itself, or a folder's regular files in
// name order (hidden files and READMEs left out).
Result<std::vector<fs::path>> trace_files(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return Error(ErrorCode::kNotFound, "no trace at " + path.string());
  }
  if (!fs::is_directory(path, ec)) return std::vector<fs::path>{path};
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.starts_with(".") || name.starts_with("README")) continue;
    files.push_back(entry.path());
  }
  if (ec)
    return Error(ErrorCode::kUnavailable, "cannot list " + path.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) return Error(ErrorCode::kNotFound, "no trace files in " + path.string());
  return files;
}

// Splits a record at `separator`; CSV quoting only when a quote is there.
void split_fields(std::string_view record, char separator, std::vector<std::string_view>& out,
                  std::vector<std::string>& unquoted) {
  out.clear();
  if (separator == ',' && record.find('"') != std::string_view::npos) {
    Diagnostics ignored;  // quoting was checked when the record was gathered
    auto records = internal::split_csv(record, "", ignored);
    unquoted = records.empty() ? std::vector<std::string>{} : std::move(records[0].fields);
    for (const auto& f : unquoted) out.emplace_back(f);
    return;
  }
  std::size_t from = 0;
  while (true) {
    std::size_t at = record.find(separator, from);
    out.push_back(record.substr(from, at == std::string_view::npos ? at : at - from));
    if (at == std::string_view::npos) break;
    from = at + 1;
  }
}

// Whether a CSV record is complete: its quotes are balanced.
bool quotes_balanced(std::string_view text) {
  return std::count(text.begin(), text.end(), '"') % 2 == 0;
}

}  // namespace

std::string_view trace_format_name(TraceFormat format) {
  for (const auto& f : kFormatNames) {
    if (f.format == format) return f.name;
  }
  return "?";
}

std::string trace_format_names() {
  std::string out;
  for (const auto& f : kFormatNames) out += (out.empty() ? "" : "|") + std::string(f.name);
  return out;
}

Result<TraceFormat> parse_trace_format(std::string_view name) {
  std::vector<std::string> names;
  for (const auto& f : kFormatNames) {
    if (name == f.name) return f.format;
    names.emplace_back(f.name);
  }
  return Error(ErrorCode::kInvalidArgument, "unknown trace format '" + std::string(name) + "'" +
                                                did_you_mean(name, names) + " (one of " +
                                                trace_format_names() + ")");
}

// --- the reader -----------------------------------------------------------------

struct TraceReader::Impl {
  TraceFormat format = TraceFormat::kNative;
  TraceReadOptions options;
  std::vector<fs::path> files;
  std::size_t next_file = 0;
  std::unique_ptr<internal::RowFormat> rows;  // not for native files
  std::ifstream in;
  std::string current;  // the file being read
  int line = 0;
  bool header_pending = false;
  TraceStats stats;
  std::optional<Error> error;
  bool done = false;
  // Native files are read whole (sim/workload.h checks them as a unit).
  std::vector<sched::Job> native;
  std::size_t native_next = 0;

  std::string text, record;
  std::vector<std::string_view> fields;
  std::vector<std::string> unquoted;

  void bad_row(int at, const std::string& message) {
    ++stats.bad_rows;
    Diagnostic d{SourceLocation{current, at, 0}, message};
    if (stats.first_bad_rows.size() < TraceStats::kMaxBadRowsKept)
      stats.first_bad_rows.push_back(d);
    if (options.strict) {
      error = Error::invalid_input(current + ":" + std::to_string(at) + ": " + message +
                                       " (strict: the import stops at the first bad row)",
                                   {d});
      done = true;
    }
  }

  void fail(Error e) {
    error = std::move(e);
    done = true;
  }

  bool open_next_file() {
    if (in.is_open()) in.close();
    if (next_file >= files.size()) return false;
    current = files[next_file++].string();
    in.open(current, std::ios::binary);
    if (!in) {
      fail(Error(ErrorCode::kUnavailable, "cannot read trace " + current));
      return false;
    }
    line = 0;
    header_pending = rows->has_header();
    return true;
  }

  // The next record of the current file (CSV records may span lines); false
  // at its end.
  bool next_record(int& at) {
    record.clear();
    while (std::getline(in, text)) {
      ++line;
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (record.empty()) {
        if (line == 1 && text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
        if (internal::is_blank(text)) continue;
        at = line;
        record = text;
      } else {
        record += '\n';
        record += text;
      }
      if (rows->separator() != ',' || quotes_balanced(record)) return true;
    }
    if (!record.empty()) {
      ++stats.rows;
      bad_row(at, "a quoted field is not closed before the end of the file");
      record.clear();
    }
    return false;
  }

  bool next(TraceJob& job) {
    if (format == TraceFormat::kNative) return next_native(job);
    while (!done) {
      if (!in.is_open() && !open_next_file()) break;
      int at = 0;
      if (!next_record(at)) {
        in.close();
        if (done) break;
        continue;
      }
      split_fields(record, rows->separator(), fields, unquoted);
      if (header_pending) {
        header_pending = false;
        std::vector<std::string> assumptions;
        auto accepted = rows->header(fields, assumptions);
        if (!accepted) {
          fail(Error(accepted.error().code(),
                     current + ":" + std::to_string(at) + ": " + accepted.error().message(),
                     SourceLocation{current, at, 0}));
          break;
        }
        for (auto& a : assumptions) {
          if (std::find(stats.assumptions.begin(), stats.assumptions.end(), a) ==
              stats.assumptions.end()) {
            stats.assumptions.push_back(std::move(a));
          }
        }
        continue;
      }
      if (rows->is_header_line(fields)) continue;
      ++stats.rows;
      job.file = current;
      job.line = at;
      job.user.clear();
      job.group.clear();
      job.model.clear();
      job.start_s.reset();
      internal::RowOutcome outcome = rows->row(fields, job);
      switch (outcome.kind) {
        case internal::RowOutcome::kJob: ++stats.jobs; return true;
        case internal::RowOutcome::kSkip:
          ++stats.skipped;
          ++stats.skip_reasons[outcome.why];
          break;
        case internal::RowOutcome::kBad: bad_row(at, outcome.why); break;
      }
    }
    finish();
    return false;
  }

  bool next_native(TraceJob& job) {
    if (native_next >= native.size()) return false;
    const sched::Job& j = native[native_next++];
    job = TraceJob{};
    job.id = j.id.str();
    job.submit_s = static_cast<double>(j.submit.unix_microseconds()) / 1e6;
    job.gpus = j.gpus;
    job.duration_s = j.work / j.gpus * 3600.0;  // on the reference chip
    job.user = j.org.str();
    job.group = j.team;
    job.model = j.model;
    job.native = j;
    job.file = current;
    ++stats.rows;
    ++stats.jobs;
    return true;
  }

  void finish() {
    if (rows) {
      for (auto& a : rows->row_assumptions()) stats.assumptions.push_back(std::move(a));
      rows.reset();
    }
  }
};

TraceReader::TraceReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TraceReader::TraceReader(TraceReader&&) noexcept = default;
TraceReader& TraceReader::operator=(TraceReader&&) noexcept = default;
TraceReader::~TraceReader() = default;

Result<TraceReader> TraceReader::open(const fs::path& path, TraceFormat format,
                                      const TraceReadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->format = format;
  impl->options = options;
  auto files = trace_files(path);
  if (!files) return std::move(files).error();
  impl->files = std::move(files).value();
  if (format == TraceFormat::kNative) {
    // Numeric submit times count from the Unix epoch here: inspect reports
    // them as they are, and a scenario reads native files itself.
    for (const auto& file : impl->files) {
      auto jobs = read_workload(file, Instant::from_unix_seconds(0));
      if (!jobs) return std::move(jobs).error();
      impl->current = file.string();
      for (auto& j : *jobs) impl->native.push_back(std::move(j));
    }
    impl->stats.time_origin = "1970-01-01T00:00:00Z (native submit times are dates)";
    impl->stats.times_are_dates = true;
    impl->stats.assumptions.push_back(
        "native durations are on the reference chip: work / GPUs (reference GPU-hours)");
    return TraceReader(std::move(impl));
  }
  auto rows = internal::make_row_format(format, options);
  if (!rows) return std::move(rows).error();
  impl->rows = std::move(rows).value();
  impl->stats.time_origin = impl->rows->time_origin();
  impl->stats.times_are_dates = impl->rows->times_are_dates();
  impl->stats.assumptions = impl->rows->format_assumptions();
  return TraceReader(std::move(impl));
}

bool TraceReader::next(TraceJob& job) {
  return impl_->next(job);
}
const TraceStats& TraceReader::stats() const {
  return impl_->stats;
}
const std::optional<Error>& TraceReader::error() const {
  return impl_->error;
}

// --- inspect ----------------------------------------------------------------------

namespace {

using internal::percentile;

std::string size_bucket(double gpus) {
  if (gpus < 1) return "<1";
  return std::to_string(static_cast<long long>(std::ceil(gpus)));
}

// Keeps the distinct values of a field up to a bound, then counts no more:
// inspect stays in bounded memory on any trace.
class BoundedSet {
 public:
  void add(const std::string& value) {
    if (value.empty() || values_.size() >= kMax) return;
    values_.insert(value);
  }
  std::size_t size() const { return values_.size(); }
  static constexpr std::size_t kMax = 1'000'000;

 private:
  std::set<std::string> values_;
};

}  // namespace

Result<TraceSummary> inspect_trace(const fs::path& path, TraceFormat format,
                                   const TraceReadOptions& options) {
  auto reader = TraceReader::open(path, format, options);
  if (!reader) return std::move(reader).error();
  TraceSummary s;
  s.file = path.string();
  s.format = format;
  // Percentiles need the values: kept as floats, 8 bytes a job for two of them.
  std::vector<float> queues, durations;
  BoundedSet users, groups;
  TraceJob job;
  bool first = true;
  double queue_sum = 0, duration_sum = 0;
  while (reader->next(job)) {
    if (first) s.first_submit_s = s.last_submit_s = job.submit_s;
    first = false;
    s.first_submit_s = std::min(s.first_submit_s, job.submit_s);
    s.last_submit_s = std::max(s.last_submit_s, job.submit_s);
    s.last_end_s = std::max(s.last_end_s, job.start_s.value_or(job.submit_s) + job.duration_s);
    s.gpu_hours += job.gpus * job.duration_s / 3600.0;
    ++s.gpu_histogram[size_bucket(job.gpus)];
    for (const auto& m : job.gpu_models) ++s.gpu_models[m];
    if (!job.state.empty()) ++s.states[job.state];
    users.add(job.user);
    groups.add(job.group);
    duration_sum += job.duration_s;
    durations.push_back(static_cast<float>(job.duration_s));
    if (job.start_s) {
      ++s.with_start_times;
      queue_sum += *job.start_s - job.submit_s;
      queues.push_back(static_cast<float>(*job.start_s - job.submit_s));
    }
  }
  if (reader->error()) return *reader->error();
  s.stats = reader->stats();
  s.users = users.size();
  s.groups = groups.size();
  auto stats_of = [](std::vector<float>& values, double sum, double& mean, double& p50,
                     double& p95) {
    if (values.empty()) return;
    std::vector<double> all(values.begin(), values.end());
    values.clear();
    values.shrink_to_fit();
    std::sort(all.begin(), all.end());
    mean = sum / static_cast<double>(all.size());
    p50 = percentile(all, 0.5);
    p95 = percentile(all, 0.95);
  };
  stats_of(queues, queue_sum, s.mean_queue_s, s.p50_queue_s, s.p95_queue_s);
  stats_of(durations, duration_sum, s.mean_duration_s, s.p50_duration_s, s.p95_duration_s);
  return s;
}

// --- import ---------------------------------------------------------------------------

namespace {

bool matches(const std::optional<std::string>& want, const std::string& have) {
  return !want || *want == "*" || *want == have;
}

const TraceMapping::OrgRule* org_rule(const TraceMapping& m, const TraceJob& job) {
  for (const auto& rule : m.orgs) {
    if (matches(rule.user, job.user) && matches(rule.group, job.group) &&
        matches(rule.model, job.model)) {
      return &rule;
    }
  }
  return nullptr;
}

}  // namespace

Result<ImportedTrace> import_trace(const TraceMapping& m, Instant origin) {
  ImportedTrace out;
  if (m.format == TraceFormat::kNative) {
    auto jobs = read_workload(m.path, origin);
    if (!jobs) return std::move(jobs).error();
    out.jobs = std::move(jobs).value();
    out.stats.rows = out.stats.jobs = out.jobs.size();
    return out;
  }
  if (!(m.time_scale > 0)) {
    return Error(ErrorCode::kInvalidArgument, "trace time_scale must be greater than zero");
  }
  auto reader = TraceReader::open(m.path, m.format, m.read);
  if (!reader) return std::move(reader).error();
  struct Kept {
    double submit_s;
    sched::Job job;
  };
  std::vector<Kept> kept;
  TraceJob t;
  while (reader->next(t)) {
    if ((m.from_s && t.submit_s < *m.from_s) || (m.until_s && t.submit_s >= *m.until_s)) {
      ++out.outside_window;
      continue;
    }
    const TraceMapping::OrgRule* rule = org_rule(m, t);
    if (rule == nullptr) {
      ++out.unmatched;
      continue;
    }
    sched::Job job;
    job.id = JobId(t.id);
    job.org = rule->org;
    job.team = !rule->team.empty() ? rule->team
               : !t.group.empty()  ? t.group
               : !t.user.empty()   ? t.user
                                   : "default";
    const int whole = static_cast<int>(std::ceil(t.gpus - 1e-9));
    if (static_cast<double>(whole) != t.gpus) ++out.rounded_up;
    job.gpus = std::max(1, whole);
    // A job that may run on several models is taken to have run on the slowest.
    std::optional<double> speed;
    std::vector<ChipId> chips;
    for (const auto& model : t.gpu_models) {
      if (auto s = m.speed.find(model); s != m.speed.end()) {
        speed = std::min(speed.value_or(s->second), s->second);
      }
      auto c = m.chips.find(model);
      for (const ChipId& chip : c != m.chips.end() ? c->second : m.default_chips) {
        if (std::find(chips.begin(), chips.end(), chip) == chips.end()) chips.push_back(chip);
      }
    }
    if (t.gpu_models.empty()) chips = m.default_chips;
    job.eligible_chips = std::move(chips);
    job.work = t.duration_s / 3600.0 * job.gpus * speed.value_or(m.default_speed);
    job.model = t.model;
    if (job.gpus >= m.checkpoint_min_gpus) {
      job.checkpoint_interval = m.checkpoint_interval;
      job.checkpoint_gb = m.checkpoint_gb_per_gpu * job.gpus;
    } else {
      job.checkpoint_interval = Duration();
    }
    kept.push_back({t.submit_s, std::move(job)});
  }
  if (reader->error()) return *reader->error();
  out.stats = reader->stats();
  // Trace time zero: `from`, or the first arrival when no window start is given.
  double zero = m.from_s.value_or(0);
  if (!m.from_s && !kept.empty()) {
    zero = std::min_element(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) {
             return a.submit_s < b.submit_s;
           })->submit_s;
  }
  out.jobs.reserve(kept.size());
  for (auto& k : kept) {
    k.job.submit = origin + Duration::from_seconds((k.submit_s - zero) * m.time_scale);
    out.jobs.push_back(std::move(k.job));
  }
  kept = {};
  // Arrival order, as the native reader gives it; max_jobs keeps the first.
  std::sort(out.jobs.begin(), out.jobs.end(), [](const sched::Job& a, const sched::Job& b) {
    return a.submit < b.submit || (a.submit == b.submit && a.id < b.id);
  });
  if (m.max_jobs && out.jobs.size() > *m.max_jobs) {
    out.outside_window += out.jobs.size() - *m.max_jobs;
    out.jobs.resize(*m.max_jobs);
  }
  std::set<JobId> seen;
  Diagnostics duplicates;
  for (const auto& job : out.jobs) {
    if (!seen.insert(job.id).second) {
      duplicates.add({m.path.string(), 0, 0}, "job id '" + job.id.str() + "' appears twice");
    }
  }
  if (!duplicates.empty()) {
    return duplicates.to_error("trace " + m.path.string() + " repeats job ids");
  }
  return out;
}

std::vector<std::string> import_notes(const TraceMapping& m, const ImportedTrace& t) {
  const TraceStats& s = t.stats;
  std::vector<std::string> notes{"trace " + m.path.string() + " (" +
                                 std::string(trace_format_name(m.format)) +
                                 "): " + std::to_string(s.rows) + " rows, " +
                                 std::to_string(t.jobs.size()) + " jobs simulated"};
  for (const auto& [why, n] : s.skip_reasons) {
    notes.push_back(std::to_string(n) + " rows left out: " + why);
  }
  if (s.bad_rows > 0) {
    notes.push_back(std::to_string(s.bad_rows) + " bad rows skipped, the first:");
    constexpr std::size_t kShown = 3;
    for (std::size_t i = 0; i < s.first_bad_rows.size() && i < kShown; ++i) {
      notes.push_back("  " + to_string(s.first_bad_rows[i]));
    }
  }
  if (t.outside_window) {
    notes.push_back(std::to_string(t.outside_window) +
                    " jobs outside the window (from, until, max_jobs) left out");
  }
  if (t.unmatched) {
    notes.push_back(std::to_string(t.unmatched) + " jobs matched no org rule and were left out");
  }
  if (t.rounded_up) {
    notes.push_back(std::to_string(t.rounded_up) + " jobs with a GPU share hold a whole GPU");
  }
  for (const auto& a : s.assumptions) notes.push_back("assumed: " + a);
  return notes;
}

}  // namespace straits::sim
