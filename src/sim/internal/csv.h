// CSV as the simulator reads and writes it: RFC 4180 quoting, spaces
// around unquoted fields ignored. Shared by the workload reader, the run
// verifier and the simulator's outputs, so that what one writes the other reads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace straits::sim::internal {

struct CsvRecord {
  int line = 0;  // where the record starts
  std::vector<std::string> fields;
};

// Splits CSV text into records. A quoted field may hold commas, line breaks
// and "" for a quote. A record with bad quoting is reported and skipped; an
// unterminated quote swallows the rest of the file, so it ends reading.
// Blank lines are skipped.
std::vector<CsvRecord> split_csv(std::string_view text, const std::string& file,
                                 Diagnostics& diagnostics);

// One cell, quoted when it must be to read back the same.
std::string csv_cell(const std::string& text);
void append_csv_cell(std::string& out, const std::string& text);

// A CSV file read as a stream, for files too large to hold (a 10^6-job
// run's outputs): a chunk at a time through split_csv, each chunk cut at
// its last line end outside quotes, so rows and their line numbers are what
// split_csv gives for the whole file. Rows are checked against the header
// and cells read by column name; problems are kept with their FILE:LINE.
//
// Example:
//   CsvFileReader csv;
//   STRAITS_TRY(csv.open(dir / "intervals.csv", {"pool", "start"}));
//   while (const CsvRecord* row = csv.next()) {
//     auto start = csv.instant(*row, "start");
//     if (!start) continue;  // (reported)
//     ...
//   }
//   STRAITS_TRY(csv.finish());
class CsvFileReader {
 public:
  static constexpr std::size_t kMaxProblems = 20;  // then next() stops

  // Opens `path` and reads its header, which must hold `columns` (others are
  // ignored, so that later versions may add some). NotFound when the file
  // cannot be opened; InvalidArgument when the header lacks a column.
  Status open(const std::filesystem::path& path, const std::vector<std::string>& columns);

  // The next row with as many fields as the header (others are reported and
  // skipped), or nullptr at the end or once kMaxProblems were reported.
  // Valid until the next call.
  const CsvRecord* next();

  // REQUIRES: `column` was asked for at open().
  const std::string& cell(const CsvRecord& row, const std::string& column) const {
    return row.fields[index_.at(column)];
  }
  // A finite number; otherwise 0, reported.
  double number(const CsvRecord& row, const std::string& column);
  // An ISO 8601 instant; nullopt when the cell is empty and may be, or when
  // it is not one (reported).
  std::optional<Instant> instant(const CsvRecord& row, const std::string& column,
                                 bool may_be_empty = false);
  void bad(const CsvRecord& row, const std::string& message);

  // Ok, or InvalidArgument holding every problem as FILE:LINE: message.
  Status finish() const;

 private:
  const CsvRecord* next_record();
  bool refill();

  std::string file_;
  std::ifstream in_;
  std::vector<std::string> header_;
  std::map<std::string, std::size_t> index_;
  std::vector<CsvRecord> records_;  // of the current chunk
  std::size_t at_ = 0;
  std::string pending_;  // read, not yet split: starts at a record boundary
  std::size_t scanned_ = 0;
  bool quoted_ = false, done_ = false;
  int line_offset_ = 0;
  Diagnostics problems_;
};

}  // namespace straits::sim::internal
