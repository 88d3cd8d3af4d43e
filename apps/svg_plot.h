// apps/svg_plot.h — plots as self-contained SVG strings (no external fonts, styles or scripts), for
// report.html: line plots with optional bands and markers, scatter plots with error bars, heatmaps.
//
// Linear axes get "nice" ticks (1, 2 or 5 × 10^k steps, Heckbert's "Nice numbers for graph labels",
// Graphics Gems 1990); log axes get one tick per decade (plus 2× and 5× ticks over short ranges). Each
// series is a polyline in its own colour (the palette by index unless the series names one), its band
// (lo..hi per point) a translucent polygon behind it; a legend lists the series. Elements of a series
// that has a `key` carry class "s" and data-key="KEY" and legend entries data-toggle="KEY", so a page
// script can hide and show a series in every plot at once.
#pragma once
#include <string>
#include <vector>

namespace ng::app {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;
  std::vector<double> lo = {}, hi = {};  // band; empty: none
  std::string colour = {};                // empty: the palette colour of the series' index
  std::string dash = {};                  // SVG stroke-dasharray; empty: solid
  double width = 2.0, opacity = 1.0;
  std::string key = {};                   // toggle key (see above); empty: none
  bool in_legend = true;
};

// A vertical mark at x: a full-height dashed line (`line`) or a small triangle on the x axis.
struct PlotMarker {
  double x = 0.0;
  std::string label;  // tooltip
  std::string colour = "#d62728";
  bool line = false;
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 560, height = 340;
  bool log_x = false, log_y = false;  // non-positive values are left out on a log axis
  bool legend = true;                 // the plot's own legend
  std::vector<PlotMarker> markers = {};
};

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt);

// A point with error bars (± x_err, ± y_err; 0: none) and its label written beside it.
struct ScatterPoint {
  std::string label;
  double x = 0.0, y = 0.0, x_err = 0.0, y_err = 0.0;
  std::string colour = {}, key = {};
};

// Also draws opt.markers (e.g. x values with no y, such as failed trials).
std::string svg_scatter_plot(const std::vector<ScatterPoint>& points, const PlotOptions& opt);

// values[r][c] at row label rows[r] and column position columns[c]; non-finite cells (and non-positive
// ones on a log scale) are drawn grey. The colour scale (viridis) spans the finite values, on log10 when
// `log_scale`; a colour bar shows its ends.
struct HeatmapData {
  std::vector<std::string> rows;
  std::vector<double> columns;
  std::vector<std::vector<double>> values;
  bool log_scale = true;
};

std::string svg_heatmap(const HeatmapData& data, const PlotOptions& opt);

// An axis: its ends, its ticks and their labels. `frac` maps a value to 0..1 along the axis.
struct AxisTicks {
  double lo = 0.0, hi = 1.0;
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  double frac(double v) const;
};

// [a, b] widened to whole nice steps (a degenerate or invalid range gets some room).
AxisTicks linear_ticks(double a, double b, int target_ticks);
// [a, b] (both > 0) widened to whole decades; a tick per decade (every k-th over more than 8 decades),
// with 2× and 5× ticks when the axis spans at most 2 decades. Labels: 0.01, 1, 100, 1e-05, 1e+04.
AxisTicks log_ticks(double a, double b);

// True when the finite values are all positive and span a factor of 10 or more (a log axis shows them
// better than a linear one).
bool prefers_log_axis(const std::vector<double>& values);

// Legend columns (1 to 3) that fit entries of up to `longest_label` characters into `plot_width` pixels.
int legend_columns(size_t longest_label, double plot_width);

// Viridis at t in [0, 1] (clamped), as "#rrggbb".
std::string heat_colour(double t);

// Escapes &, <, >, " for HTML/SVG text.
std::string xml_escape(const std::string& s);

}  // namespace ng::app
