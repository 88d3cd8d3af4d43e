// tests/apps/report_plot_test.cpp — the pure helpers behind report.html: axes (linear and log ticks),
// the heat colour map, legend layout, family colours and variant dashes, smoothing, and the SVG the
// plot functions write (toggle keys, log axes dropping non-positive values, markers, heatmap cells).
#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "apps/report_style.h"
#include "apps/svg_plot.h"
#include "core/generator.h"

namespace ng::app {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(LogTicks, OneTickPerDecadeLabelledPlainlyOrInExponentForm) {
  const AxisTicks t = log_ticks(0.003, 250);
  EXPECT_TRUE(t.log);
  EXPECT_DOUBLE_EQ(t.lo, 1e-3);
  EXPECT_DOUBLE_EQ(t.hi, 1e3);
  EXPECT_EQ(t.labels, (std::vector<std::string>{"1e-03", "0.01", "0.1", "1", "10", "100", "1000"}));
  EXPECT_NEAR(t.frac(1.0), 0.5, 1e-12);
  EXPECT_NEAR(t.frac(1e3), 1.0, 1e-12);
}

TEST(LogTicks, ShortRangesGetTwoAndFiveTicksLongOnesEveryKthDecade) {
  EXPECT_EQ(log_ticks(1.5, 30).labels, (std::vector<std::string>{"1", "2", "5", "10", "20", "50", "100"}));
  const AxisTicks wide = log_ticks(1e-12, 1e12);  // 24 decades: every third
  EXPECT_EQ(wide.ticks.size(), 9u);
  EXPECT_EQ(wide.labels.front(), "1e-12");
  EXPECT_EQ(wide.labels.back(), "1e+12");
  // A value exactly on a decade, and an invalid range.
  EXPECT_DOUBLE_EQ(log_ticks(10, 10).lo, 10);
  EXPECT_DOUBLE_EQ(log_ticks(10, 10).hi, 100);
  EXPECT_DOUBLE_EQ(log_ticks(0, 5).lo, 1);
  EXPECT_DOUBLE_EQ(log_ticks(0, 5).hi, 10);
}

TEST(LogTicks, RandomRangesAreCoveredByWholeDecadesWithIncreasingTicks) {
  Generator gen(17);
  for (int trial = 0; trial < 200; ++trial) {
    const double a = std::pow(10.0, -8 + 16 * gen.next_uniform()), b = a * std::pow(10.0, 10 * gen.next_uniform());
    const AxisTicks t = log_ticks(a, b);
    EXPECT_LE(t.lo, a * (1 + 1e-12));
    EXPECT_GE(t.hi, b * (1 - 1e-12));
    EXPECT_LT(t.hi, std::max(b, 10 * a) * 10.0 * (1 + 1e-9)) << a << " " << b;
    EXPECT_NEAR(std::log10(t.lo), std::round(std::log10(t.lo)), 1e-9);
    ASSERT_EQ(t.ticks.size(), t.labels.size());
    for (size_t i = 1; i < t.ticks.size(); ++i) EXPECT_LT(t.ticks[i - 1], t.ticks[i]);
    EXPECT_NEAR(t.frac(a), (std::log10(a) - std::log10(t.lo)) / (std::log10(t.hi) - std::log10(t.lo)), 1e-9);
  }
}

TEST(LinearTicks, NiceStepsCoverTheRange) {
  const AxisTicks t = linear_ticks(0.13, 0.87, 5);
  EXPECT_FALSE(t.log);
  EXPECT_EQ(t.labels, (std::vector<std::string>{"0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"}));
  EXPECT_DOUBLE_EQ(t.frac(0.5), 0.5);
  const AxisTicks flat = linear_ticks(2, 2, 5);  // a degenerate range gets room around it
  EXPECT_LT(flat.lo, 2);
  EXPECT_GT(flat.hi, 2);
}

TEST(PlotHelpers, LogAxisPreferenceLegendColumnsAndHeatColours) {
  EXPECT_TRUE(prefers_log_axis({1, 5, 20}));
  EXPECT_TRUE(prefers_log_axis({std::nan(""), 0.1, 1}));
  EXPECT_FALSE(prefers_log_axis({1, 5}));
  EXPECT_FALSE(prefers_log_axis({0, 100}));
  EXPECT_EQ(legend_columns(10, 482), 3);
  EXPECT_EQ(legend_columns(23, 322), 1);
  EXPECT_EQ(legend_columns(200, 100), 1);
  EXPECT_EQ(heat_colour(0), "#440154");
  EXPECT_EQ(heat_colour(0.5), "#21918c");
  EXPECT_EQ(heat_colour(1), "#fde725");
  EXPECT_EQ(heat_colour(-3), "#440154");
  EXPECT_EQ(heat_colour(std::nan("")), "#440154");
}

TEST(ReportStyle, FamiliesGetColoursVariantsShadesAndBf16Dashes) {
  const std::vector<ConfigId> ids = {{"sgd", "sgd"},         {"adamw", "adamw"},
                                     {"kfac", "kfac"},       {"kfac-bf16", "kfac"},
                                     {"ikfac", "ikfac"},     {"ikfac-bf16", "ikfac"},
                                     {"singd-dense", "singd"}, {"singd-dense-bf16", "singd"},
                                     {"singd-diagonal", "singd"}, {"singd-diagonal-bf16", "singd"},
                                     {"singd-hierarchical", "singd"}, {"singd-hierarchical-bf16", "singd"},
                                     {"singd-toeplitz", "singd"}, {"singd-toeplitz-bf16", "singd"},
                                     {"mine", "lion"},       {"mine_bf16", "lion"}};
  const auto s = config_styles(ids);
  ASSERT_EQ(s.size(), ids.size());
  EXPECT_EQ(s[0].colour, family_colour("sgd"));  // one base in a family keeps the family colour
  EXPECT_EQ(s[2].colour, s[3].colour);            // kfac, kfac-bf16: one colour, different dash
  EXPECT_EQ(s[2].dash, "");
  EXPECT_EQ(s[3].dash, "6,3");
  EXPECT_NE(s[6].colour, s[8].colour);  // singd dense vs diagonal: different shades
  EXPECT_EQ(s[6].colour, s[7].colour);
  EXPECT_EQ(s[14].family, "other");
  EXPECT_EQ(s[14].colour, s[15].colour);
  EXPECT_EQ(s[15].dash, "6,3");
  std::set<std::pair<std::string, std::string>> distinct;
  for (const auto& st : s) distinct.insert({st.colour, st.dash});
  EXPECT_EQ(distinct.size(), ids.size());  // 16 configs, 16 different looks
  EXPECT_EQ(optimizer_family("kfac"), "kfac");
  EXPECT_EQ(optimizer_family("KFAC"), "other");
  EXPECT_EQ(shade("#808080", -1), "#000000");
  EXPECT_EQ(shade("#808080", 1), "#ffffff");
  EXPECT_EQ(shade("#123456", 0), "#123456");
  EXPECT_EQ(shade("red", 0.5), "red");
}

TEST(Smoothing, BiasCorrectedEmaMatchesItsDefinition) {
  Generator gen(5);
  std::vector<double> y(60);
  for (auto& v : y) v = 2.0 + gen.next_uniform();
  y[10] = std::nan("");
  const double w = 0.8;
  const auto s = smooth_ema(y, w);
  double acc = 0.0, debias = 1.0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (i == 10) {
      EXPECT_TRUE(std::isnan(s[i]));
      continue;
    }
    acc = w * acc + (1 - w) * y[i];
    debias *= w;
    EXPECT_NEAR(s[i], acc / (1 - debias), 1e-12) << i;
  }
  EXPECT_DOUBLE_EQ(s[0], y[0]);  // bias correction: the first value is itself
  EXPECT_EQ(smooth_ema(y, 0.0)[5], y[5]);
  for (double v : smooth_ema(std::vector<double>(30, 3.5), 0.9)) EXPECT_NEAR(v, 3.5, 1e-12);
  EXPECT_EQ(smoothing_weight(10), 0.0);
  EXPECT_EQ(smoothing_weight(40), 0.5);
  EXPECT_NEAR(smoothing_weight(100), 0.8, 1e-12);
  EXPECT_EQ(smoothing_weight(100000), 0.98);
}

TEST(SvgPlot, KeyedSeriesLogAxesAndMarkers) {
  PlotSeries a{"a", {1, 2, 3, 4}, {0.1, -1, 10, 100}};  // the original aggregate form still works
  a.key = "cfg-a";
  a.dash = "6,3";
  PlotSeries faint{"a raw", {1, 2}, {1, 2}};
  faint.in_legend = false;
  faint.opacity = 0.3;
  PlotOptions opt{"T", "x", "y"};
  opt.log_y = true;
  opt.markers = {{2.5, "step 2 skipped", "#123456", false}, {3.5, "diverged", "#d62728", true}};
  const std::string svg = svg_line_plot({a, faint}, opt);
  EXPECT_EQ(count(svg, "class=\"s\" data-key=\"cfg-a\""), 1u);
  EXPECT_EQ(count(svg, "data-toggle=\"cfg-a\""), 1u);  // the legend entry; the faint series has none
  EXPECT_EQ(count(svg, ">a raw</text>"), 0u);  // in its tooltip only
  EXPECT_NE(svg.find("stroke-dasharray=\"6,3\""), std::string::npos);
  EXPECT_NE(svg.find("stroke-opacity=\"0.3\""), std::string::npos);
  // The non-positive point is left out on the log axis: 3 of 4 points drawn.
  const size_t from = svg.find("points=\"", svg.find("data-key=\"cfg-a\"")) + 8;
  const std::string pts = svg.substr(from, svg.find('"', from) - from);
  EXPECT_EQ(count(pts, ","), 3u) << pts;
  EXPECT_NE(svg.find("<title>step 2 skipped</title></path>"), std::string::npos);
  EXPECT_NE(svg.find("<title>diverged</title></line>"), std::string::npos);
  EXPECT_NE(svg.find(">0.1</text>"), std::string::npos);  // decade ticks
  EXPECT_NE(svg.find(">100</text>"), std::string::npos);
}

TEST(SvgPlot, HeatmapCellsAndScatterErrorBars) {
  HeatmapData d;
  d.rows = {"0", "4"};
  d.columns = {0, 2, 4};
  d.values = {{1, 10, 100}, {std::nan(""), 0, 1000}};
  const std::string hm = svg_heatmap(d, PlotOptions{"H", "step", ""});
  EXPECT_EQ(count(hm, "class=\"cell\""), 6u);
  EXPECT_EQ(count(hm, "fill=\"#d0d0d0\""), 2u);  // NaN, and 0 on the log scale
  EXPECT_EQ(count(hm, "fill=\"" + heat_colour(0) + "\""), 1u);  // 1 is the lowest positive value
  EXPECT_EQ(count(hm, "fill=\"" + heat_colour(1) + "\""), 1u);  // 1000 the highest
  EXPECT_NE(hm.find("<title>4 @ 4: 1e+03</title>"), std::string::npos);  // tooltips: layer @ step: value
  EXPECT_NE(hm.find("<title>0 @ 2: 10</title>"), std::string::npos);

  const std::string sc = svg_scatter_plot({{"p", 1, 80, 0.5, 2, "#000000", "p"}, {"q", 3, 70, 0, 0, "", ""}},
                                          PlotOptions{"S", "x", "y"});
  EXPECT_EQ(count(sc, "<circle"), 2u);
  EXPECT_EQ(count(sc, "<line x1"), 2u + count(sc, "stroke=\"#e5e5e5\""));  // grid lines + p's two error bars
  EXPECT_EQ(count(sc, "data-key=\"p\""), 1u);
}

}  // namespace
}  // namespace ng::app
