#include "sim/internal/svg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/time.h"

namespace straits::sim::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Series series(std::string name, std::vector<Point> points, bool step = false) {
  Series s;
  s.name = std::move(name);
  s.points = std::move(points);
  s.step = step;
  return s;
}

double day(int d) {
  return static_cast<double>(Instant::from_date(2026, 1, d).unix_seconds());
}

TEST(SvgTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(escape_xml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  LineChart c;
  c.id = "x";
  c.title = "<script>alert(1)</script>";
  c.series.push_back(series("a&b", {{0, 1}, {1, 2}}));
  std::string svg = render(c);
  EXPECT_THAT(svg, Not(HasSubstr("<script>")));
  EXPECT_THAT(svg, HasSubstr("data-name=\"a&amp;b\""));
}

TEST(SvgTest, FormatsValuesWithThreeSignificantDigits) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(12.345), "12.3");
  EXPECT_EQ(format_value(950), "950");
  EXPECT_EQ(format_value(999.7), "1k");  // rounds up into the next unit, not "1e+03"
  EXPECT_EQ(format_value(1234), "1.23k");
  EXPECT_EQ(format_value(45'600'000), "45.6M");
  EXPECT_EQ(format_value(-7.89e9), "-7.89G");
  EXPECT_EQ(format_value(std::nan("")), "-");
}

TEST(SvgTest, CdfHasOnePointPerDistinctValueEndingAtAHundredPercent) {
  auto points = cdf_points({3, 1, 2, 2, std::numeric_limits<double>::infinity()});
  ASSERT_EQ(points.size(), 3u);  // 1, 2, 3 (the infinity dropped)
  EXPECT_DOUBLE_EQ(points[0].x, 1);
  EXPECT_DOUBLE_EQ(points[0].y, 25);  // 1 of 4 samples
  EXPECT_DOUBLE_EQ(points[1].x, 2);
  EXPECT_DOUBLE_EQ(points[1].y, 75);  // 3 of 4
  EXPECT_DOUBLE_EQ(points[2].y, 100);
}

TEST(SvgTest, CdfOfManyValuesIsBoundedAndKeepsTheEnds) {
  std::vector<double> samples;
  for (int i = 0; i < 100000; ++i) samples.push_back(i % 7 == 0 ? 0.0 : i * 0.5);
  auto points = cdf_points(samples, 500);
  ASSERT_LE(points.size(), 500u);
  EXPECT_DOUBLE_EQ(points.front().x, 0);  // the 0s: 1 in 7, at least 14.28%
  EXPECT_NEAR(points.front().y, 100.0 * 14286 / 100000, 0.2);
  EXPECT_DOUBLE_EQ(points.back().x, 99999 * 0.5);
  EXPECT_DOUBLE_EQ(points.back().y, 100);
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i].x, points[i - 1].x);
    EXPECT_GT(points[i].y, points[i - 1].y);
  }
}

TEST(SvgTest, DownsampleKeepsSpikesAndTheLastLevel) {
  std::vector<Point> points;
  for (int i = 0; i < 100000; ++i)
    points.push_back({static_cast<double>(i), i == 31337 ? 99.0 : 1.0});
  points.back().y = 5;
  auto reduced = downsample(points, 2000);
  ASSERT_LE(reduced.size(), 2000u);
  bool spike = false;
  for (const auto& p : reduced) spike |= p.y == 99 && p.x == 31337;
  EXPECT_TRUE(spike);
  EXPECT_DOUBLE_EQ(reduced.back().x, 99999);
  EXPECT_DOUBLE_EQ(reduced.back().y, 5);
  EXPECT_DOUBLE_EQ(reduced.front().x, 0);
  EXPECT_EQ(downsample(std::vector<Point>(10, Point{1, 1}), 2000).size(), 10u);  // short: as is
}

TEST(SvgTest, LineChartCountsSeriesAndMarkersInItsAttributes) {
  LineChart c;
  c.id = "util";
  c.title = "Utilisation";
  c.x.title = "Date (UTC)";
  c.x.kind = AxisKind::kTime;
  c.x.min = day(1);
  c.x.max = day(31);
  c.y.title = "Busy GPUs (%)";
  c.y.min = 0;
  c.y.max = 100;
  for (std::string name : {"sg", "my", "jp"}) {
    c.series.push_back(series(name, {{day(1), 10}, {day(10), 50}}, /*step=*/true));
  }
  c.series.push_back(series("empty", {}));  // still a series
  c.markers = {{day(15), "R1", "2026-01-15: rule a takes effect"},
               {day(15), "R2", "2026-01-15: rule b takes effect"},
               {day(40), "R3", "outside the window: not drawn"}};
  std::string svg = render(c);
  EXPECT_THAT(svg, HasSubstr("data-chart=\"util\" data-kind=\"line\" data-series=\"4\" "
                             "data-markers=\"2\""));
  EXPECT_EQ(count(svg, "<g class=\"series\""), 4u);
  EXPECT_EQ(count(svg, "<g class=\"marker\""), 2u);
  EXPECT_EQ(count(svg, "<g class=\"legend-item\""), 4u);
  EXPECT_THAT(svg, HasSubstr("data-x=\"2026-01-15T00:00:00Z\""));
  // Weekly ticks on Mondays (2026-01-05 was one), labelled by date.
  EXPECT_THAT(svg, HasSubstr(">2026-01-05</text>"));
  EXPECT_THAT(svg, HasSubstr(">2026-01-12</text>"));
  EXPECT_THAT(svg, HasSubstr(">Busy GPUs (%)</text>"));
  // Two markers at one instant: their labels on two rows, not on top of each other.
  EXPECT_EQ(count(svg, "font-weight=\"bold\" fill=\"#333\">R"), 2u);
  EXPECT_THAT(svg, HasSubstr("y=\"46.0\" text-anchor=\"middle\" font-size=\"11\" "
                             "font-weight=\"bold\" fill=\"#333\">R1"));
  EXPECT_THAT(svg, HasSubstr("y=\"61.0\" text-anchor=\"middle\" font-size=\"11\" "
                             "font-weight=\"bold\" fill=\"#333\">R2"));
  // A step path: horizontal then vertical moves.
  EXPECT_THAT(svg, HasSubstr("H"));
  EXPECT_EQ(render(c), svg);  // same chart, same bytes
}

TEST(SvgTest, NumberTicksAreNiceAndShareOneUnit) {
  LineChart c;
  c.id = "cost";
  c.x.title = "x";
  c.y.title = "Cost (USD)";
  c.series.push_back(series("cost", {{0, 0}, {1, 11'616'447}}));
  std::string svg = render(c);
  // 0 to 12.5M in steps of 2.5M: labels in M, no long numbers.
  EXPECT_THAT(svg, HasSubstr(">0</text>"));
  EXPECT_THAT(svg, HasSubstr(">2.5M</text>"));
  EXPECT_THAT(svg, HasSubstr(">12.5M</text>"));
  EXPECT_THAT(svg, Not(HasSubstr("12000000<")));
}

TEST(SvgTest, LogAxisDrawsValuesBelowItsMinimumAtTheMinimum) {
  LineChart c;
  c.id = "delay";
  c.x.title = "Delay (hours)";
  c.x.scale = Scale::kLog;
  c.x.min = 0.01;
  c.y.title = "Jobs (%)";
  c.y.min = 0;
  c.y.max = 100;
  c.series.push_back(series("delay", cdf_points({0, 0, 0.5, 30}), /*step=*/true));
  std::string svg = render(c);
  EXPECT_THAT(svg, HasSubstr("data-points=\"3\""));  // 0 kept, at the left edge
  EXPECT_THAT(svg, HasSubstr(">0.01</text>"));
  EXPECT_THAT(svg, HasSubstr(">100</text>"));
}

TEST(SvgTest, BarChartGroupsSeriesSideBySide) {
  for (bool horizontal : {false, true}) {
    BarChart c;
    c.id = "teams";
    c.title = "Finish time by team";
    c.categories = {"team-1", "team-2", "a-team-with-a-very-long-name-indeed"};
    c.category_title = "Team";
    c.value.title = "Hours after start";
    c.series = {{"baseline", {10, 20, 30}}, {"scenario", {12, std::nan(""), 25}}};
    c.horizontal = horizontal;
    std::string svg = render(c);
    EXPECT_THAT(svg, HasSubstr("data-kind=\"bar\" data-series=\"2\""));
    EXPECT_EQ(count(svg, "<rect class=\"bar\""), 5u);  // the missing value: no bar
    EXPECT_THAT(svg, HasSubstr("data-category=\"team-2\" data-value=\"20\""));
    EXPECT_THAT(svg, HasSubstr("<g class=\"series\" data-name=\"scenario\" data-points=\"2\""));
  }
}

}  // namespace
}  // namespace straits::sim::internal
