#include "sim/internal/html_page.h"

#include <cmath>

#include "sim/internal/svg.h"
#include "sim/internal/text.h"

namespace straits::sim::internal {
namespace {

// One style sheet for both pages; charts carry their own fonts and colours.
constexpr std::string_view kStyle = R"(
body { font-family: "DejaVu Sans", Verdana, sans-serif; color: #222; background: #fff;
       margin: 0; line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
p { margin: 6px 0; }
p.sub { color: #555; }
p.note { color: #555; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
caption { text-align: left; color: #555; font-size: 13px; padding-bottom: 4px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
td.w { white-space: normal; }
th { background: #f4f4f4; text-align: left; font-weight: 600; white-space: normal; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr:hover td { background: #fafafa; }
.up { color: #b3261e; }
.down { color: #1e6b2e; }
.grid { display: flex; flex-wrap: wrap; gap: 4px 12px; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 6px 0; }
code { background: #f4f4f4; padding: 0 3px; }
)";

}  // namespace

std::string page_begin(std::string_view title, std::string_view subtitle_html) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + escape_xml(title) + "</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<main>\n<h1>" + escape_xml(title) + "</h1>\n";
  if (!subtitle_html.empty()) {
    out += "<p class=\"sub\">";
    out += subtitle_html;
    out += "</p>\n";
  }
  return out;
}

std::string page_end() {
  return "</main>\n</body>\n</html>\n";
}

std::string render(const HtmlTable& table) {
  std::string out = "<table>\n";
  if (!table.caption.empty()) out += "<caption>" + escape_xml(table.caption) + "</caption>\n";
  out += "<thead><tr>";
  for (std::size_t c = 0; c < table.headers.size(); ++c) {
    out += c < table.text_columns ? "<th>" : "<th class=\"n\">";
    out += escape_xml(table.headers[c]) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += c == table.wrap_column   ? "<td class=\"w\">"
             : c < table.text_columns ? "<td>"
                                      : "<td class=\"n\">";
      out += escape_xml(row[c]) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  return out;
}

std::string fixed(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  // No "-0.00": a value that rounds to zero is written without a sign.
  if (std::round(std::fabs(value) * scale) == 0) value = 0;
  std::string out;
  append_fixed(out, value, decimals);
  return out;
}

std::string signed_grouped(double value, int decimals) {
  std::string text = grouped(value, decimals);
  if (text.front() != '-' && std::round(std::fabs(value) * std::pow(10.0, decimals)) != 0) {
    return "+" + text;
  }
  return text;
}

std::string grouped(double value, int decimals) {
  std::string text = fixed(value, decimals);
  const bool negative = text.front() == '-';
  std::size_t digits_begin = negative ? 1 : 0;
  std::size_t digits_end = text.find('.');
  if (digits_end == std::string::npos) digits_end = text.size();
  std::string out = text.substr(0, digits_begin);
  for (std::size_t i = digits_begin; i < digits_end; ++i) {
    if (i > digits_begin && (digits_end - i) % 3 == 0) out += ',';
    out += text[i];
  }
  out += text.substr(digits_end);
  return out;
}

}  // namespace straits::sim::internal
