#include "sim/internal/svg.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/time.h"
#include "sim/internal/text.h"

namespace straits::sim::internal {
namespace {

// Layout, in pixels. Text widths are estimated (no font metrics in a
// writer): 0.6 em a character is about the widest common sans-serif's
// average (DejaVu Sans, Chromium's default on Debian), so labels placed
// by the estimate do not collide.
constexpr double kCharEm = 0.6;
constexpr int kTitleSize = 15;
constexpr int kTextSize = 12;
constexpr int kSmallSize = 11;
constexpr double kMarkerRow = 15;
constexpr int kMaxMarkerRows = 8;
constexpr double kLegendRow = 18;
constexpr std::string_view kFont = "font-family=\"DejaVu Sans, Verdana, sans-serif\"";

double text_width(std::string_view text, double size) {
  std::size_t chars = 0;
  for (char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // UTF-8 starts
  return static_cast<double>(chars) * size * kCharEm;
}

// A coordinate, one decimal, never "-0.0".
void append_coord(std::string& out, double v) {
  double r = std::round(v * 10) / 10;
  if (r == 0 || !std::isfinite(r)) r = 0;
  if (r < 0) {
    out += '-';
    r = -r;
  }
  append_fixed(out, r, 1);
}

std::string coord(double v) {
  std::string s;
  append_coord(s, v);
  return s;
}

// Element ids from the chart id: letters, digits and '-' only.
std::string element_id(std::string_view id, std::string_view suffix) {
  std::string out;
  for (char c : id) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += plain ? c : '-';
  }
  out += '-';
  out += suffix;
  return out;
}

std::string_view dash_of(std::size_t series) {
  if (series < kPalette.size()) return "";
  return series < 2 * kPalette.size() ? "6 3" : "2 2";
}

std::string_view colour_of(std::size_t series) {
  return kPalette[series % kPalette.size()];
}

// Fixed decimals through to_chars (exact, locale-free).
std::string fixed(double v, int decimals) {
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed, decimals);
  return ec == std::errc() ? std::string(buffer, end) : std::string("0");
}

std::string shortest(double v) {
  std::string s;
  append_shortest(s, v == 0 ? 0.0 : v);
  return s;
}

// ---- Scales and ticks.

struct Tick {
  double value = 0;
  std::string label;
};

struct Mapper {
  double lo = 0, hi = 1;  // domain
  double a = 0, b = 1;    // range (pixels); a maps lo
  bool log = false;
  double operator()(double v) const {
    if (log) {
      v = std::max(v, lo);
      double t = (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
      return a + t * (b - a);
    }
    return a + (v - lo) / (hi - lo) * (b - a);
  }
};

// 1, 2, 2.5 or 5 x 10^k, so that `span` holds about `target` steps.
double nice_step(double span, int target) {
  double raw = span / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  }
  return 10 * mag;
}

// Labels of ticks `step` apart: one divisor (k, M, G) for the whole axis,
// as many decimals as the step needs.
std::vector<Tick> number_ticks(double lo, double hi, double step) {
  std::vector<Tick> ticks;
  const double top = std::max(std::fabs(lo), std::fabs(hi));
  double divisor = 1;
  std::string_view suffix;
  if (top >= 1e9) {
    divisor = 1e9;
    suffix = "G";
  } else if (top >= 1e6) {
    divisor = 1e6;
    suffix = "M";
  } else if (top >= 1e4) {
    divisor = 1e3;
    suffix = "k";
  }
  int decimals = 0;
  while (decimals < 6) {
    double scaled = step / divisor * std::pow(10.0, decimals);
    if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  const auto first = static_cast<long long>(std::ceil(lo / step - 1e-9));
  const auto last = static_cast<long long>(std::floor(hi / step + 1e-9));
  for (long long k = first; k <= last && ticks.size() < 100; ++k) {
    double v = static_cast<double>(k) * step;
    double shown = v / divisor;
    if (std::fabs(shown) < 1e-12) {
      ticks.push_back({0, "0"});
      continue;
    }
    ticks.push_back({v, fixed(shown, decimals) + std::string(suffix)});
  }
  return ticks;
}

std::vector<Tick> log_ticks(double lo, double hi) {
  std::vector<Tick> ticks;
  const int first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  const int last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  const bool fine = last - first <= 2;
  for (int e = first; e <= last; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1 && !fine) continue;
      double v = m * std::pow(10.0, e);
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      ticks.push_back({v, format_value(v)});
    }
  }
  return ticks;
}

std::string two(int v) {
  std::string s = std::to_string(v);
  return v < 10 ? "0" + s : s;
}

Instant instant_of(double seconds) {
  return Instant::from_unix_microseconds(static_cast<std::int64_t>(std::llround(seconds * 1e6)));
}

// "2026-01-15" at midnight, "2026-01-15 06:30" otherwise.
std::string time_label(double seconds) {
  Instant t = instant_of(seconds);
  std::string day = to_iso_date(t);
  std::int64_t in_day = ((t.unix_seconds() % 86400) + 86400) % 86400;
  if (in_day == 0) return day;
  return day + " " + two(static_cast<int>(in_day / 3600)) + ":" +
         two(static_cast<int>(in_day / 60 % 60));
}

std::vector<Tick> time_ticks(double lo, double hi, int max_ticks) {
  std::vector<Tick> ticks;
  const double span = hi - lo;
  static constexpr double kSteps[] = {60,    300,   600,   900,   1800,   3600,   7200,
                                      10800, 21600, 43200, 86400, 172800, 604800, 1209600};
  for (double step : kSteps) {
    if (span / step > max_ticks) continue;
    // Weeks start on Mondays (1970-01-05 was one), everything else on
    // multiples of the step from the epoch (midnight UTC for days).
    const double origin = step >= 604800 ? 4 * 86400 : 0;
    for (double t = std::ceil((lo - origin) / step) * step + origin; t <= hi; t += step) {
      std::int64_t in_day = ((static_cast<std::int64_t>(t) % 86400) + 86400) % 86400;
      std::string label;
      if (step >= 86400 || in_day == 0) {
        label = to_iso_date(instant_of(t));
      } else {
        label =
            two(static_cast<int>(in_day / 3600)) + ":" + two(static_cast<int>(in_day / 60 % 60));
      }
      ticks.push_back({t, label});
    }
    return ticks;
  }
  // Months and years, on the first of the month.
  Date from = date_of(instant_of(lo));
  for (int months : {1, 2, 3, 6, 12, 24, 60, 120, 600}) {
    if (span / (months * 30.4 * 86400) > max_ticks) continue;
    int y = from.year, m = from.month;
    // The first boundary at or after lo that is a multiple of the step.
    auto at = [&] { return static_cast<double>(Instant::from_date(y, m, 1).unix_seconds()); };
    auto advance = [&](int n) {
      int index = y * 12 + (m - 1) + n;
      y = index / 12;
      m = index % 12 + 1;
    };
    while (at() < lo || ((y * 12 + m - 1) % months) != 0) advance(1);
    while (at() <= hi && ticks.size() < 100) {
      std::string label = months >= 12 ? std::to_string(y) : std::to_string(y) + "-" + two(m);
      ticks.push_back({at(), label});
      advance(months);
    }
    return ticks;
  }
  return ticks;
}

struct AxisLayout {
  Mapper map;
  std::vector<Tick> ticks;
};

// The domain of an axis over data [lo, hi] (NaN when there are none).
// `include_zero`: value axes start at 0 (bars and lines are read from it).
AxisLayout lay_out(const Axis& axis, double lo, double hi, bool include_zero, int target_ticks,
                   double a, double b) {
  AxisLayout out;
  bool log = axis.scale == Scale::kLog && axis.kind == AxisKind::kNumber;
  bool no_data = !std::isfinite(lo) || !std::isfinite(hi);
  if (no_data) {
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  if (axis.min) lo = *axis.min;
  if (axis.max) hi = *axis.max;
  if (log) {
    if (lo <= 0) lo = 1e-3;
    if (hi <= lo) hi = lo * 10;
    if (!axis.min) lo = std::pow(10.0, std::floor(std::log10(lo) + 1e-9));
    if (!axis.max) hi = std::pow(10.0, std::ceil(std::log10(hi) - 1e-9));
    if (hi <= lo) hi = lo * 10;
    out.ticks = log_ticks(lo, hi);
  } else if (axis.kind == AxisKind::kTime) {
    if (hi <= lo) {
      lo -= 43200;
      hi += 43200;
    }
    // A date label is about 66 px wide at the tick size: room for it and a gap.
    int max_ticks = std::max(2, static_cast<int>(std::fabs(b - a) / 85));
    out.ticks = time_ticks(lo, hi, max_ticks);
  } else {
    if (include_zero && !axis.min) lo = std::min(lo, 0.0);
    if (include_zero && !axis.max) hi = std::max(hi, 0.0);
    if (hi <= lo) {
      hi = lo + (lo == 0 ? 1 : std::fabs(lo));
    }
    double step = nice_step(hi - lo, target_ticks);
    if (!axis.min) lo = std::floor(lo / step + 1e-9) * step;
    if (!axis.max) hi = std::ceil(hi / step - 1e-9) * step;
    if (hi <= lo) hi = lo + step;
    out.ticks = number_ticks(lo, hi, step);
  }
  out.map = Mapper{lo, hi, a, b, log};
  return out;
}

// ---- Pieces of markup.

void open_svg(std::string& out, std::string_view id, std::string_view kind, std::size_t series,
              std::size_t markers, int width, double height, std::string_view title) {
  out += "<svg class=\"chart\" data-chart=\"" + escape_xml(id) + "\" data-kind=\"";
  out += kind;
  out += "\" data-series=\"" + std::to_string(series) + "\" data-markers=\"" +
         std::to_string(markers) + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         std::to_string(width) + "\" height=\"" + coord(std::ceil(height)) + "\" viewBox=\"0 0 " +
         std::to_string(width) + " " + coord(std::ceil(height)) + "\" role=\"img\" aria-label=\"" +
         escape_xml(title) + "\" ";
  out += kFont;
  out += ">\n<title>" + escape_xml(title) + "</title>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  out += "<text class=\"chart-title\" x=\"12\" y=\"22\" font-size=\"" + std::to_string(kTitleSize) +
         "\" font-weight=\"bold\" fill=\"#222\">" + escape_xml(title) + "</text>\n";
}

void text(std::string& out, double x, double y, std::string_view anchor, int size,
          std::string_view fill, std::string_view content, std::string_view extra = "") {
  out += "<text x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" text-anchor=\"";
  out += anchor;
  out += "\" font-size=\"" + std::to_string(size) + "\" fill=\"";
  out += fill;
  out += "\"";
  if (!extra.empty()) {
    out += ' ';
    out += extra;
  }
  out += ">" + escape_xml(content) + "</text>\n";
}

// The vertical value axis: a grid line and a label at each tick, and the
// title turned along the axis.
void vertical_axis(std::string& out, const AxisLayout& y, double left, double right, double top,
                   double bottom, std::string_view title) {
  out += "<g class=\"axis y\">\n";
  for (const auto& t : y.ticks) {
    const double py = y.map(t.value);
    out += "<line x1=\"" + coord(left) + "\" y1=\"" + coord(py) + "\" x2=\"" + coord(right) +
           "\" y2=\"" + coord(py) + "\" stroke=\"#e4e4e4\"/>\n";
    text(out, left - 6, py + 4, "end", kSmallSize, "#444", t.label);
  }
  text(out, 16, (top + bottom) / 2, "middle", kTextSize, "#222", title,
       "transform=\"rotate(-90 16 " + coord((top + bottom) / 2) + ")\"");
  out += "</g>\n";
}

// A label no wider than `width` (estimated): cut with an ellipsis.
std::string fit_label(const std::string& label, double width, double size) {
  if (text_width(label, size) <= width) return label;
  std::string cut;
  for (std::size_t i = 0; i < label.size(); ++i) {
    if ((static_cast<unsigned char>(label[i]) & 0xC0) != 0x80 &&
        text_width(cut, size) + 2 * size * kCharEm > width) {
      break;
    }
    cut += label[i];
  }
  return cut + "\u2026";
}

struct LegendEntry {
  std::string name;
  std::size_t index = 0;
  bool bar = false;
};

double legend_height(const std::vector<LegendEntry>& entries, double width) {
  if (entries.empty()) return 0;
  double x = 0;
  int rows = 1;
  for (const auto& e : entries) {
    double w = 28 + text_width(e.name, kTextSize) + 18;
    if (x > 0 && x + w > width) {
      ++rows;
      x = 0;
    }
    x += w;
  }
  return rows * kLegendRow;
}

void legend(std::string& out, const std::vector<LegendEntry>& entries, double left, double top,
            double width) {
  out += "<g class=\"legend\">\n";
  double x = 0, y = top;
  for (const auto& e : entries) {
    double w = 28 + text_width(e.name, kTextSize) + 18;
    if (x > 0 && x + w > width) {
      x = 0;
      y += kLegendRow;
    }
    const double cx = left + x, cy = y + kLegendRow / 2;
    out += "<g class=\"legend-item\" data-name=\"" + escape_xml(e.name) + "\">";
    if (e.bar) {
      out += "<rect x=\"" + coord(cx) + "\" y=\"" + coord(cy - 5) +
             "\" width=\"20\" height=\"10\" fill=\"" + std::string(colour_of(e.index)) + "\"/>";
    } else {
      out += "<line x1=\"" + coord(cx) + "\" y1=\"" + coord(cy) + "\" x2=\"" + coord(cx + 20) +
             "\" y2=\"" + coord(cy) + "\" stroke=\"" + std::string(colour_of(e.index)) +
             "\" stroke-width=\"3\"";
      if (!dash_of(e.index).empty())
        out += " stroke-dasharray=\"" + std::string(dash_of(e.index)) + "\"";
      out += "/>";
    }
    out += "<text x=\"" + coord(cx + 26) + "\" y=\"" + coord(cy + 4) + "\" font-size=\"" +
           std::to_string(kTextSize) + "\" fill=\"#222\">" + escape_xml(e.name) + "</text></g>\n";
    x += w;
  }
  out += "</g>\n";
}

// Tick labels along a horizontal axis at `y`, dropping any that would
// overlap the one before, kept inside [left_edge, right_edge].
void x_tick_labels(std::string& out, const AxisLayout& axis, double y, double left_edge,
                   double right_edge) {
  double last_end = -1e9;
  for (const auto& t : axis.ticks) {
    double x = axis.map(t.value);
    double w = text_width(t.label, kSmallSize);
    double start = std::clamp(x - w / 2, left_edge, right_edge - w);
    if (start < last_end + 8) continue;
    last_end = start + w;
    text(out, start + w / 2, y, "middle", kSmallSize, "#444", t.label);
  }
}

double max_label_width(const std::vector<Tick>& ticks, double size) {
  double w = 0;
  for (const auto& t : ticks) w = std::max(w, text_width(t.label, size));
  return w;
}

bool finite(const Point& p) {
  return std::isfinite(p.x) && std::isfinite(p.y);
}

}  // namespace

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (!std::isfinite(v)) return "-";
  if (v == 0) return "0";
  std::string sign = v < 0 ? "-" : "";
  double a = std::fabs(v);
  std::string_view suffix;
  if (a >= 999.5e6) {
    a /= 1e9;
    suffix = "G";
  } else if (a >= 999.5e3) {
    a /= 1e6;
    suffix = "M";
  } else if (a >= 999.5) {
    a /= 1e3;
    suffix = "k";
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, a, std::chars_format::general, 3);
  std::string digits = ec == std::errc() ? std::string(buffer, end) : std::string("0");
  return sign + digits + std::string(suffix);
}

std::vector<Point> cdf_points(std::vector<double> samples, std::size_t max_points) {
  samples.erase(
      std::remove_if(samples.begin(), samples.end(), [](double v) { return !std::isfinite(v); }),
      samples.end());
  std::sort(samples.begin(), samples.end());
  std::vector<Point> out;
  const std::size_t n = samples.size();
  if (n == 0) return out;
  max_points = std::max<std::size_t>(max_points, 2);
  auto percent = [n](std::size_t rank) {
    return 100.0 * static_cast<double>(rank) / static_cast<double>(n);
  };
  // One point per distinct value, at the last of its equal samples.
  std::size_t distinct = 1;
  for (std::size_t i = 1; i < n; ++i) distinct += samples[i] != samples[i - 1];
  if (distinct <= max_points) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 1 < n && samples[i + 1] == samples[i]) continue;
      out.push_back({samples[i], percent(i + 1)});
    }
    return out;
  }
  // Evenly spaced ranks 1..n; the value at each, keeping the last rank of a value.
  for (std::size_t k = 1; k <= max_points; ++k) {
    std::size_t rank = (k * n + max_points - 1) / max_points;  // ceil(k n / max), last is n
    double value = samples[rank - 1];
    while (rank < n && samples[rank] == value) ++rank;
    if (!out.empty() && out.back().x == value) {
      out.back().y = percent(rank);
      continue;
    }
    out.push_back({value, percent(rank)});
  }
  return out;
}

std::vector<Point> downsample(const std::vector<Point>& points, std::size_t max_points) {
  if (points.size() <= max_points || max_points < 4) return points;
  const std::size_t buckets = max_points / 4;
  const double lo = points.front().x, hi = points.back().x;
  const double width = (hi - lo) / static_cast<double>(buckets);
  std::vector<Point> out;
  out.reserve(max_points);
  std::size_t i = 0;
  while (i < points.size()) {
    std::size_t bucket =
        width > 0 ? std::min(buckets - 1, static_cast<std::size_t>((points[i].x - lo) / width)) : 0;
    std::size_t begin = i, low = i, high = i;
    while (i < points.size()) {
      std::size_t b =
          width > 0 ? std::min(buckets - 1, static_cast<std::size_t>((points[i].x - lo) / width))
                    : 0;
      if (b != bucket) break;
      if (points[i].y < points[low].y) low = i;
      if (points[i].y > points[high].y) high = i;
      ++i;
    }
    std::size_t last = i - 1;
    std::size_t keep[] = {begin, low, high, last};
    std::sort(std::begin(keep), std::end(keep));
    for (std::size_t k = 0; k < 4; ++k) {
      if (k > 0 && keep[k] == keep[k - 1]) continue;
      out.push_back(points[keep[k]]);
    }
  }
  return out;
}

namespace {

// ---- Line charts ------------------------------------------------------------

// The series as drawn (finite points, reduced) and the range of their points.
struct DrawnSeries {
  std::vector<std::vector<Point>> points;
  double x_lo = std::numeric_limits<double>::quiet_NaN(), x_hi = x_lo, y_lo = x_lo, y_hi = x_lo;
};

DrawnSeries drawn_series(const LineChart& chart) {
  DrawnSeries d;
  d.points.resize(chart.series.size());
  auto widen = [](double& lo, double& hi, double v) {
    if (std::isnan(lo) || v < lo) lo = v;
    if (std::isnan(hi) || v > hi) hi = v;
  };
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    std::vector<Point> points;
    points.reserve(chart.series[s].points.size());
    for (const Point& p : chart.series[s].points) {
      if (!finite(p)) continue;
      if (chart.x.scale == Scale::kLog && p.x <= 0 && !chart.x.min) continue;
      points.push_back(p);
      widen(d.x_lo, d.x_hi, p.x);
      if (chart.y.scale == Scale::kLog && p.y <= 0) continue;
      widen(d.y_lo, d.y_hi, p.y);
    }
    d.points[s] = downsample(points, chart.max_points);
  }
  return d;
}

// A marker inside the x range, on its label row.
struct PlacedMarker {
  const Marker* marker;
  double x, label_x;
  int row;
};

// The markers inside the x range, each label on the first row where it
// does not touch the one before (at most kMaxMarkerRows rows).
std::vector<PlacedMarker> place_markers(const std::vector<Marker>& markers, const AxisLayout& x,
                                        double left, double right) {
  std::vector<PlacedMarker> placed;
  std::vector<const Marker*> inside;
  for (const Marker& m : markers) {
    if (std::isfinite(m.x) && m.x >= x.map.lo && m.x <= x.map.hi) inside.push_back(&m);
  }
  std::stable_sort(inside.begin(), inside.end(),
                   [](const Marker* a, const Marker* b) { return a->x < b->x; });
  std::vector<double> row_end;
  for (const Marker* m : inside) {
    double px = x.map(m->x);
    double w = text_width(m->label, kSmallSize) + 6;
    double start = std::clamp(px - w / 2, left, right - w);
    int row = 0;
    while (row < static_cast<int>(row_end.size()) &&
           row_end[static_cast<std::size_t>(row)] > start - 3)
      ++row;
    if (row >= kMaxMarkerRows) row = kMaxMarkerRows - 1;
    if (row >= static_cast<int>(row_end.size()))
      row_end.resize(static_cast<std::size_t>(row) + 1, -1e9);
    row_end[static_cast<std::size_t>(row)] = start + w;
    placed.push_back({m, px, start + w / 2, row});
  }
  return placed;
}

// The x axis of a line chart: grid lines, the axis, tick labels, title.
void line_x_axis(std::string& out, const LineChart& chart, const AxisLayout& x, double left,
                 double right, double top, double bottom, double title_y) {
  out += "<g class=\"axis x\">\n";
  for (const auto& t : x.ticks) {
    double px = x.map(t.value);
    out += "<line x1=\"" + coord(px) + "\" y1=\"" + coord(top) + "\" x2=\"" + coord(px) +
           "\" y2=\"" + coord(bottom + 4) + "\" stroke=\"#f0f0f0\"/>\n";
  }
  out += "<line x1=\"" + coord(left) + "\" y1=\"" + coord(bottom) + "\" x2=\"" + coord(right) +
         "\" y2=\"" + coord(bottom) + "\" stroke=\"#888\"/>\n";
  x_tick_labels(out, x, bottom + 16, left - 20, chart.width - 4);
  text(out, (left + right) / 2, title_y, "middle", kTextSize, "#222", chart.x.title);
  out += "</g>\n";
}

// Series `s` as one path (steps or straight lines), dots if asked, in a
// group named for tests.
void line_series(std::string& out, const LineChart& chart, std::size_t s,
                 const std::vector<Point>& points, const AxisLayout& x, const AxisLayout& y,
                 const std::string& clip) {
  const Series& series = chart.series[s];
  out += "<g class=\"series\" data-name=\"" + escape_xml(series.name) + "\" data-points=\"" +
         std::to_string(points.size()) + "\" clip-path=\"url(#" + clip + ")\">";
  out += "<title>" + escape_xml(series.name) + "</title>";
  if (!points.empty()) {
    out += "<path fill=\"none\" stroke=\"" + std::string(colour_of(s)) +
           "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"";
    if (!dash_of(s).empty()) out += " stroke-dasharray=\"" + std::string(dash_of(s)) + "\"";
    out += " d=\"M";
    append_coord(out, x.map(points[0].x));
    out += ' ';
    append_coord(out, y.map(points[0].y));
    for (std::size_t i = 1; i < points.size(); ++i) {
      if (series.step) {
        out += 'H';
        append_coord(out, x.map(points[i].x));
        out += 'V';
        append_coord(out, y.map(points[i].y));
      } else {
        out += 'L';
        append_coord(out, x.map(points[i].x));
        out += ' ';
        append_coord(out, y.map(points[i].y));
      }
    }
    out += "\"/>";
    if (series.dots) {
      for (const Point& p : points) {
        out += "<circle cx=\"" + coord(x.map(p.x)) + "\" cy=\"" + coord(y.map(p.y)) +
               "\" r=\"3\" fill=\"" + std::string(colour_of(s)) + "\"/>";
      }
    }
  }
  out += "</g>\n";
}

// A marker over the series: a dashed line down to the axis, its label on its row.
void line_marker(std::string& out, const LineChart& chart, const PlacedMarker& p, double bottom) {
  const double label_y = 36 + p.row * kMarkerRow + 10;
  out += "<g class=\"marker\" data-x=\"" +
         escape_xml(chart.x.kind == AxisKind::kTime ? to_iso8601(instant_of(p.marker->x))
                                                    : shortest(p.marker->x)) +
         "\" data-label=\"" + escape_xml(p.marker->label) + "\" data-detail=\"" +
         escape_xml(p.marker->detail) + "\"><title>" + escape_xml(p.marker->detail) + "</title>";
  out += "<line x1=\"" + coord(p.x) + "\" y1=\"" + coord(label_y + 3) + "\" x2=\"" + coord(p.x) +
         "\" y2=\"" + coord(bottom) +
         "\" stroke=\"#555\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>";
  out += "<text x=\"" + coord(p.label_x) + "\" y=\"" + coord(label_y) +
         "\" text-anchor=\"middle\" font-size=\"" + std::to_string(kSmallSize) +
         "\" font-weight=\"bold\" fill=\"#333\">" + escape_xml(p.marker->label) + "</text></g>\n";
}

}  // namespace

std::string render(const LineChart& chart) {
  const DrawnSeries drawn = drawn_series(chart);
  const double width = chart.width;
  // Vertical layout: title, marker label rows, plot, x labels, x title,
  // note, legend.
  AxisLayout y = lay_out(chart.y, drawn.y_lo, drawn.y_hi, /*include_zero=*/true,
                         std::max(2, chart.plot_height / 45), 0, 0);
  const double left = 16 + 10 + max_label_width(y.ticks, kSmallSize) + 10;
  const double right = width - 24;
  AxisLayout x = lay_out(chart.x, drawn.x_lo, drawn.x_hi, /*include_zero=*/false,
                         std::max(2, static_cast<int>((right - left) / 90)), left, right);

  const std::vector<PlacedMarker> placed = place_markers(chart.markers, x, left, right);
  int rows = 0;
  for (const auto& p : placed) rows = std::max(rows, p.row + 1);
  const double top = 36 + rows * kMarkerRow + (rows > 0 ? 6 : 8);  // room for the top tick label
  const double bottom = top + chart.plot_height;
  y.map.a = bottom;
  y.map.b = top;

  std::vector<LegendEntry> entries;
  for (std::size_t s = 0; s < chart.series.size(); ++s)
    entries.push_back({chart.series[s].name, s});
  double cursor = bottom + 18 + 20;  // tick labels, then the axis title
  const double x_title_y = cursor;
  if (!chart.note.empty()) cursor += 18;
  const double note_y = cursor;
  const double legend_top = cursor + 8;
  const double height = legend_top + legend_height(entries, right - left) + 8;

  std::string out;
  open_svg(out, chart.id, "line", chart.series.size(), placed.size(), chart.width, height,
           chart.title);
  const std::string clip = element_id(chart.id, "plot");
  out += "<defs><clipPath id=\"" + clip + "\"><rect x=\"" + coord(left) + "\" y=\"" +
         coord(top - 2) + "\" width=\"" + coord(right - left) + "\" height=\"" +
         coord(bottom - top + 4) + "\"/></clipPath></defs>\n";

  // Grid and axes, the series, the markers over them.
  vertical_axis(out, y, left, right, top, bottom, chart.y.title);
  line_x_axis(out, chart, x, left, right, top, bottom, x_title_y);
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    line_series(out, chart, s, drawn.points[s], x, y, clip);
  }
  for (const auto& p : placed) line_marker(out, chart, p, bottom);
  if (!chart.note.empty()) text(out, left, note_y, "start", kSmallSize, "#666", chart.note);
  legend(out, entries, left, legend_top, right - left);
  out += "</svg>\n";
  return out;
}

namespace {

// ---- Bar charts -------------------------------------------------------------

// Draws a bar chart's body (axes, one group of bars per series, note and
// legend) upright or on its side; counts the bars for the groups' data-points.
class BarPainter {
 public:
  explicit BarPainter(const BarChart& chart)
      : chart_(chart),
        n_(chart.categories.size()),
        k_(chart.series.size()),
        time_(chart.value.kind == AxisKind::kTime) {
    for (const auto& s : chart.series) {
      for (std::size_t c = 0; c < n_ && c < s.values.size(); ++c) {
        double v = s.values[c];
        if (!std::isfinite(v)) continue;
        if (std::isnan(lo_) || v < lo_) lo_ = v;
        if (std::isnan(hi_) || v > hi_) hi_ = v;
      }
    }
    value_axis_ = chart.value;
    value_axis_.scale = Scale::kLinear;
    for (std::size_t s = 0; s < k_; ++s) entries_.push_back({chart.series[s].name, s, true});
  }

  // The body's markup and the chart's whole height.
  std::pair<std::string, double> paint() {
    const double height = chart_.horizontal ? horizontal() : upright();
    return {std::move(body_), height};
  }

 private:
  static constexpr double kTop = 44;  // under the title, with room for the top tick label

  std::string value_text(double v) const { return time_ ? time_label(v) : format_value(v); }

  void bar(std::string& out, std::size_t s, std::size_t c, double x0, double y0, double w,
           double h) {
    const double v = chart_.series[s].values[c];
    out += "<rect class=\"bar\" data-category=\"" + escape_xml(chart_.categories[c]) +
           "\" data-value=\"" + escape_xml(shortest(v)) + "\" x=\"" + coord(x0) + "\" y=\"" +
           coord(y0) + "\" width=\"" + coord(std::max(0.0, w)) + "\" height=\"" +
           coord(std::max(0.0, h)) + "\" fill=\"" + std::string(colour_of(s)) + "\"><title>" +
           escape_xml(chart_.series[s].name + ", " + chart_.categories[c] + ": " + value_text(v)) +
           "</title></rect>";
    ++bars_;
  }

  // A series' bars in one group, counted for tests.
  void close_series(std::size_t s, const std::string& markup, std::size_t before) {
    body_ += "<g class=\"series\" data-name=\"" + escape_xml(chart_.series[s].name) +
             "\" data-points=\"" + std::to_string(bars_ - before) + "\">" + markup + "</g>\n";
  }

  // Under the plot from `cursor`: the note, then the legend; returns the height used.
  double note_and_legend(double cursor, double left, double right) {
    if (!chart_.note.empty()) {
      cursor += 18;
      text(body_, left, cursor, "start", kSmallSize, "#666", chart_.note);
    }
    legend(body_, entries_, left, cursor + 8, right - left);
    return cursor + 8 + legend_height(entries_, right - left) + 8;
  }

  double upright() {
    AxisLayout y = lay_out(value_axis_, lo_, hi_, /*include_zero=*/!time_,
                           std::max(2, chart_.plot_height / 45), 0, 0);
    const double left = 16 + 10 + max_label_width(y.ticks, kSmallSize) + 10;
    const double right = chart_.width - 24;
    const double bottom = kTop + chart_.plot_height;
    y.map.a = bottom;
    y.map.b = kTop;
    const double base = y.map(std::clamp(0.0, y.map.lo, y.map.hi));
    const double band = n_ > 0 ? (right - left) / static_cast<double>(n_) : right - left;
    // Bars no wider than 120 px: a few categories do not make slabs.
    const double group =
        std::min(band * 0.8, 120.0 * static_cast<double>(std::max<std::size_t>(k_, 1)));
    const double bar_w = k_ > 0 ? group / static_cast<double>(k_) : group;

    vertical_axis(body_, y, left, right, kTop, bottom, chart_.value.title);
    body_ += "<g class=\"axis x\">\n";
    body_ += "<line x1=\"" + coord(left) + "\" y1=\"" + coord(base) + "\" x2=\"" + coord(right) +
             "\" y2=\"" + coord(base) + "\" stroke=\"#888\"/>\n";
    for (std::size_t c = 0; c < n_; ++c) {
      std::string label = fit_label(chart_.categories[c], band - 4, kTextSize);
      text(body_, left + band * (static_cast<double>(c) + 0.5), bottom + 17, "middle", kTextSize,
           "#222", label);
    }
    text(body_, (left + right) / 2, bottom + 38, "middle", kTextSize, "#222",
         chart_.category_title);
    body_ += "</g>\n";
    for (std::size_t s = 0; s < k_; ++s) {
      std::string group_markup;
      std::size_t before = bars_;
      for (std::size_t c = 0; c < n_ && c < chart_.series[s].values.size(); ++c) {
        double v = chart_.series[s].values[c];
        if (!std::isfinite(v)) continue;
        double x0 = left + band * static_cast<double>(c) + (band - group) / 2 +
                    bar_w * static_cast<double>(s);
        double py = y.map(std::clamp(v, y.map.lo, y.map.hi));
        bar(group_markup, s, c, x0 + 1, std::min(py, base), bar_w - 2, std::fabs(base - py));
        std::string label = value_text(v);
        if (chart_.value_labels && text_width(label, kSmallSize) <= bar_w + 4) {
          text(group_markup, x0 + bar_w / 2, (v >= 0 ? std::min(py, base) - 4 : py + 13), "middle",
               kSmallSize, "#333", label);
        }
      }
      close_series(s, group_markup, before);
    }
    return note_and_legend(bottom + 38, left, right);
  }

  double horizontal() {
    const double width = chart_.width;
    double label_w = 0;
    for (const auto& c : chart_.categories) label_w = std::max(label_w, text_width(c, kTextSize));
    label_w = std::min(label_w, width * 0.35);
    const double left = 16 + 10 + label_w + 10;
    const double right = width - 60;  // room for a value label past the longest bar
    const double band = std::max(22.0, static_cast<double>(k_) * 14 + 10);
    const double bottom = kTop + band * static_cast<double>(n_);
    AxisLayout x = lay_out(value_axis_, lo_, hi_, /*include_zero=*/!time_,
                           std::max(2, static_cast<int>((right - left) / 90)), left, right);
    const double base = x.map(std::clamp(0.0, x.map.lo, x.map.hi));
    const double group = band - 8;
    const double bar_h = k_ > 0 ? group / static_cast<double>(k_) : group;

    body_ += "<g class=\"axis x\">\n";
    for (const auto& t : x.ticks) {
      double px = x.map(t.value);
      body_ += "<line x1=\"" + coord(px) + "\" y1=\"" + coord(kTop) + "\" x2=\"" + coord(px) +
               "\" y2=\"" + coord(bottom) + "\" stroke=\"#e4e4e4\"/>\n";
    }
    x_tick_labels(body_, x, bottom + 16, left - 20, width - 4);
    text(body_, (left + right) / 2, bottom + 36, "middle", kTextSize, "#222", chart_.value.title);
    body_ += "</g>\n<g class=\"axis y\">\n";
    body_ += "<line x1=\"" + coord(base) + "\" y1=\"" + coord(kTop) + "\" x2=\"" + coord(base) +
             "\" y2=\"" + coord(bottom) + "\" stroke=\"#888\"/>\n";
    for (std::size_t c = 0; c < n_; ++c) {
      std::string label = fit_label(chart_.categories[c], label_w, kTextSize);
      text(body_, left - 6, kTop + band * (static_cast<double>(c) + 0.5) + 4, "end", kTextSize,
           "#222", label);
    }
    text(body_, 16, (kTop + bottom) / 2, "middle", kTextSize, "#222", chart_.category_title,
         "transform=\"rotate(-90 16 " + coord((kTop + bottom) / 2) + ")\"");
    body_ += "</g>\n";
    for (std::size_t s = 0; s < k_; ++s) {
      std::string group_markup;
      std::size_t before = bars_;
      for (std::size_t c = 0; c < n_ && c < chart_.series[s].values.size(); ++c) {
        double v = chart_.series[s].values[c];
        if (!std::isfinite(v)) continue;
        double y0 = kTop + band * static_cast<double>(c) + 4 + bar_h * static_cast<double>(s);
        double px = x.map(std::clamp(v, x.map.lo, x.map.hi));
        bar(group_markup, s, c, std::min(px, base), y0 + 1, std::fabs(px - base), bar_h - 2);
        if (chart_.value_labels && bar_h >= 9) {
          text(group_markup, std::max(px, base) + 4, y0 + bar_h / 2 + 4, "start", kSmallSize,
               "#333", value_text(v));
        }
      }
      close_series(s, group_markup, before);
    }
    return note_and_legend(bottom + 36, left, right);
  }

  const BarChart& chart_;
  const std::size_t n_, k_;  // categories, series
  const bool time_;
  double lo_ = std::numeric_limits<double>::quiet_NaN(), hi_ = lo_;
  Axis value_axis_;
  std::vector<LegendEntry> entries_;
  std::string body_;
  std::size_t bars_ = 0;
};

}  // namespace

std::string render(const BarChart& chart) {
  auto [body, height] = BarPainter(chart).paint();
  std::string out;
  open_svg(out, chart.id, "bar", chart.series.size(), 0, chart.width, height, chart.title);
  out += body;
  out += "</svg>\n";
  return out;
}

}  // namespace straits::sim::internal
