// SVG charts written by hand, for pages that must be self-contained (no
// script, no font, no network) and byte-identical for the same data: the
// run report (sim/report.h), and the compare and sweep pages.
//
// A chart is a value (LineChart, BarChart) turned into one <svg> element by
// render(). Every number is written through fixed formatting (coordinates
// with one decimal, labels by format_value / tick rules), never through the
// locale or printf, so the same chart gives the same bytes everywhere.
//
// What the markup promises (tests and scripts count on it, keep it stable):
//   <svg class="chart" data-chart="ID" data-kind="line|bar" data-series="N"
//        data-markers="M" ...>                      one per chart
//     <g class="series" data-name="NAME" data-points="K">  one per series, in
//                                                   order, even when empty
//     <rect class="bar" data-category=".." data-value="..">  bars, in series
//     <g class="marker" data-x=".." data-label=".."> one per marker drawn
//     <g class="legend"> with one <g class="legend-item" data-name=".."> each
// Text is escaped for XML (escape_xml), in attributes and content alike.
//
// Example (a sweep: an outcome against a varied parameter):
//   LineChart c;
//   c.id = "p95-jct";
//   c.title = "95th percentile JCT by load";
//   c.x.title = "Offered load (% of the fleet)";
//   c.y.title = "JCT, 95th percentile (hours)";
//   Series s;
//   s.name = "easy-backfill";
//   s.points = {{60, 2.1}, {80, 3.4}, {90, 7.9}};
//   s.dots = true;
//   c.series.push_back(std::move(s));
//   std::string svg = render(c);
// A date on the x axis: x.kind = AxisKind::kTime and x values in Unix seconds.
// Two CDFs side by side: two Series built by cdf_points(), step = true.
// Side-by-side bars: BarChart with one BarSeries per run, one value per category.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace straits::sim::internal {

// Series colours, in order (Tableau 10: distinct on white, and for most
// colour-blind readers). Series past the tenth reuse them, dashed.
inline constexpr std::array<std::string_view, 10> kPalette = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

enum class AxisKind {
  kNumber,  // plain numbers; ticks at 1, 2, 2.5, 5 x 10^k
  kTime,    // Unix seconds (UTC); ticks at whole minutes, hours, days, weeks,
            // months or years, labelled "2026-01-15", "06:00", "2026-02", "2027"
};

enum class Scale {
  kLinear,
  kLog,  // base 10, numbers only; values at or below the axis minimum are drawn at it
};

struct Axis {
  std::string title;  // with its unit: "Utilisation (%)", "Cost (USD)"
  AxisKind kind = AxisKind::kNumber;
  Scale scale = Scale::kLinear;
  // Fixed ends. Otherwise from the data: a number axis is widened to whole
  // ticks, and a value axis (a line chart's y, a bar chart's values) then
  // includes 0; a log axis takes the decades around the positive values; a
  // time axis spans the data exactly (give the window as min and max).
  std::optional<double> min, max;
};

struct Point {
  double x = 0, y = 0;
};

struct Series {
  std::string name;
  std::vector<Point> points;  // in x order; points that are not finite are skipped
  // Each y holds until the next point's x (queue lengths, CDFs), instead of
  // a straight line between points.
  bool step = false;
  bool dots = false;  // a dot at every point: for a few points (sweeps)
};

// A vertical line across the plot at x (a rule change), with a short label
// above the plot; labels that would overlap go on further rows. `detail`
// is the tooltip (<title>) and the data-detail attribute.
struct Marker {
  double x = 0;
  std::string label;   // short: "R1"
  std::string detail;  // "2026-03-01: rule x takes effect"
};

// Lines, steps, XY sweeps and CDFs: one chart, several series on shared axes.
struct LineChart {
  std::string id;  // data-chart, and the prefix of the chart's element ids: unique in a page
  std::string title;
  Axis x, y;
  std::vector<Series> series;
  std::vector<Marker> markers;  // those outside the x axis' range are not drawn
  std::string note;             // one line under the axis: how the data were reduced
  int width = 960;
  int plot_height = 240;
  // A series with more points is reduced before drawing (see downsample()).
  std::size_t max_points = 2000;
};

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; missing or not finite: no bar
};

// Bars: one group per category, the series side by side within it.
struct BarChart {
  std::string id;
  std::string title;
  std::vector<std::string> categories;
  std::string category_title;  // "Chip"
  // The value axis (numbers or times). Bars start at 0, or at the axis
  // minimum when 0 is not on the axis (a time axis: bars from its start).
  Axis value;
  std::vector<BarSeries> series;
  bool horizontal = false;   // categories down the left: for long names or many of them
  bool value_labels = true;  // the value at the end of each bar, where it fits
  std::string note;
  int width = 960;
  int plot_height = 240;  // vertical bars; horizontal ones take what the categories need
};

// The <svg> element (no XML prolog: for inlining into HTML, or a file of its own).
std::string render(const LineChart& chart);
std::string render(const BarChart& chart);

// The empirical CDF of `samples` as step points (value, % of samples at or
// below it), one point per distinct value; with more than `max_points`
// distinct values, the points at evenly spaced ranks (and the largest).
// Samples that are not finite are dropped.
std::vector<Point> cdf_points(std::vector<double> samples, std::size_t max_points = 1000);

// At most `max_points` points keeping what the eye sees: the x range is cut
// into max_points / 4 equal buckets, and each keeps its first, lowest,
// highest and last point, in x order. Spikes survive, and a step series
// holds the right level from the end of each bucket on.
std::vector<Point> downsample(const std::vector<Point>& points, std::size_t max_points);

// "&", "<", ">", '"' and "'" as entities.
std::string escape_xml(std::string_view text);

// A value as people read it, three significant digits: "0", "0.25", "12.3",
// "950", "1.23k", "45.6M", "7.89G"; "-" prefix for negatives.
std::string format_value(double v);

}  // namespace straits::sim::internal
