// CSV as the simulator reads and writes it: RFC 4180 quoting, spaces
// around unquoted fields ignored. Shared by the workload reader, the run
// verifier and the simulator's outputs, so that what one writes the other reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

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

}  // namespace straits::sim::internal
