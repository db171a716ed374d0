// The frame of the compare and sweep pages: one self-contained HTML file
// (inline CSS, no script, no external resource) holding SVG charts from
// svg.h and plain tables, byte-identical for the same content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace straits::sim::internal {

// From <!DOCTYPE html> to the opening of <main> with an <h1>; `subtitle`
// (already HTML) goes in a paragraph under it.
std::string page_begin(std::string_view title, std::string_view subtitle_html);
// Closes what page_begin opened.
std::string page_end();

// A table: the first column is text, the others right-aligned numbers
// unless `text_columns` says otherwise. Cells are escaped.
struct HtmlTable {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  std::size_t text_columns = 1;  // how many columns from the left are text
  // A column whose long cells may wrap (every other cell stays on one line).
  std::size_t wrap_column = static_cast<std::size_t>(-1);
  std::string caption;
};
std::string render(const HtmlTable& table);

// A number with a sign and thousands separated ("+1,234.25", "-3", "0") at
// `decimals` places.
std::string signed_grouped(double value, int decimals);
// A number at `decimals` places ("1.25").
std::string fixed(double value, int decimals);
// 1234567.8 -> "1,234,568" (rounded to `decimals`, thousands separated).
std::string grouped(double value, int decimals);

}  // namespace straits::sim::internal
