// apps/svg_plot.h — a line plot with optional bands, or a scatter plot, as a self-contained SVG string
// (no scripts, no external fonts or styles), for report.html and natgrad tune's report.
//
// Axes get "nice" ticks (1, 2 or 5 × 10^k steps, Heckbert's "Nice numbers for graph labels", Graphics
// Gems 1990; on a log x axis, steps of log10 x); each line series is a polyline in its own colour, its band
// (lo..hi per point) a translucent polygon behind it; a scatter series is dots; a legend lists the series.
#pragma once
#include <string>
#include <vector>

namespace ng::app {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // band; empty: none
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 560, height = 340;
  bool log_x = false;  // logarithmic x axis (points with x <= 0 are left out)
};

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt);

// Points (x, y) as dots; a `failed` series has no y and is drawn as red crosses on the bottom edge.
struct ScatterSeries {
  std::string label;
  std::vector<double> x, y;
  bool failed = false;
};

std::string svg_scatter_plot(const std::vector<ScatterSeries>& series, const PlotOptions& opt);

// Escapes &, <, >, " for HTML/SVG text.
std::string xml_escape(const std::string& s);

}  // namespace ng::app
