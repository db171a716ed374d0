// The row formats of the public GPU-cluster traces (docs/traces.md): each
// turns one row's fields into a TraceJob, a row to leave out with a reason,
// or a bad row with a message. The reader (trace.cc) owns files and lines.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "sim/trace.h"

namespace straits::sim::internal {

// What one row is.
struct RowOutcome {
  enum Kind { kJob, kSkip, kBad } kind = kJob;
  std::string why;  // kSkip: the reason counted; kBad: the message

  static RowOutcome job() { return {}; }
  static RowOutcome skip(std::string why) { return {kSkip, std::move(why)}; }
  static RowOutcome bad(std::string why) { return {kBad, std::move(why)}; }
};

class RowFormat {
 public:
  virtual ~RowFormat() = default;
  // The field separator.
  virtual char separator() const { return ','; }
  // Whether the first line of each file is a header to pass to header().
  virtual bool has_header() const { return true; }
  // Takes a file's header; an error names what is missing. May add to
  // `assumptions` how a missing optional column is filled.
  virtual Status header(const std::vector<std::string_view>& names,
                        std::vector<std::string>& assumptions) = 0;
  // Turns a row into `job` (whose file and line are set).
  virtual RowOutcome row(const std::vector<std::string_view>& fields, TraceJob& job) = 0;
  // A headerless format may recognise a header line and skip it.
  virtual bool is_header_line(const std::vector<std::string_view>& /*fields*/) const {
    return false;
  }
  // What submit_s = 0 is, and whether it is the Unix epoch (trace times are dates).
  virtual std::string time_origin() const = 0;
  virtual bool times_are_dates() const { return false; }
  // Assumptions that hold for every file of the format.
  virtual std::vector<std::string> format_assumptions() const { return {}; }
  // Assumptions that only the rows read so far can tell (asked at the end).
  virtual std::vector<std::string> row_assumptions() const { return {}; }
};

// The row format of `format` (not kNative), or an error (Gavel without a
// throughput table).
Result<std::unique_ptr<RowFormat>> make_row_format(TraceFormat format,
                                                   const TraceReadOptions& options);

}  // namespace straits::sim::internal
