// Aligned text tables for people at a terminal.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace straits::cli {

class Table {
 public:
  enum class Align { kLeft, kRight };

  // One column per header; `numeric` columns are right-aligned.
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});

  // REQUIRES: as many cells as headers.
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }

  // Columns separated by two spaces; widths count UTF-8 code points.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

// Fixed-point text of a number with `decimals` places ("15832", "19.45").
std::string format_number(double value, int decimals);

}  // namespace straits::cli
