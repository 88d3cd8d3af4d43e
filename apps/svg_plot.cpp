// apps/svg_plot.cpp — SVG line plots with bands and scatter plots (see svg_plot.h).
#include "apps/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace ng::app {

namespace {

// Tableau-10 colours: distinguishable, colour-blind friendly enough for a handful of lines.
const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

double nice_step(double range, int target_ticks) {
  const double raw = range / std::max(1, target_ticks);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  // Widens [lo, hi] to whole ticks (a degenerate range gets some room); steps are at least min_step.
  Axis(double a, double b, int ticks, double min_step = 0.0) {
    if (!(a <= b)) a = 0, b = 1;
    if (b - a < 1e-12) {
      const double pad = std::max(std::abs(a) * 0.1, 1e-3);
      a -= pad;
      b += pad;
    }
    step = std::max(min_step, nice_step(b - a, ticks));
    lo = std::floor(a / step) * step;
    hi = std::ceil(b / step) * step;
  }
};

std::string tick_label(double v, double step) {
  char buf[32];
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), std::abs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

// A tick of a log10 axis: the value 10^v.
std::string log_tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", std::pow(10.0, v));
  return buf;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// The plot area, its axes and the SVG drawn so far: header, title, grid, ticks, axis labels.
struct Frame {
  Axis ax, ay;
  bool log_x;
  double ml = 62, mt = 30, pw = 0, ph = 0;
  std::ostringstream o;

  // x0..x1, y0..y1: the data's extent (x0, x1 already in log10 with log_x).
  Frame(const PlotOptions& opt, double x0, double x1, double y0, double y1, size_t legend_entries)
      : ax(x0, x1, 6, opt.log_x ? 1.0 : 0.0), ay(y0, y1, 5), log_x(opt.log_x) {  // log axis: ticks at decades
    const double mr = 16, mb = 46 + 16.0 * static_cast<double>((legend_entries + 2) / 3);
    pw = opt.width - ml - mr;
    ph = opt.height - mt - mb;
    o.setf(std::ios::fixed);
    o.precision(1);
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << opt.width << "\" height=\"" << opt.height
      << "\" viewBox=\"0 0 " << opt.width << " " << opt.height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
    o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    o << "<text x=\"" << opt.width / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
      << xml_escape(opt.title) << "</text>\n";
    for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step) {
      const double at = ml + (v - ax.lo) / (ax.hi - ax.lo) * pw;
      o << "<line x1=\"" << at << "\" y1=\"" << mt << "\" x2=\"" << at << "\" y2=\"" << mt + ph
        << "\" stroke=\"#e5e5e5\"/><text x=\"" << at << "\" y=\"" << mt + ph + 14 << "\" text-anchor=\"middle\">"
        << (log_x ? log_tick_label(v) : tick_label(v, ax.step)) << "</text>\n";
    }
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
      o << "<line x1=\"" << ml << "\" y1=\"" << py(v) << "\" x2=\"" << ml + pw << "\" y2=\"" << py(v)
        << "\" stroke=\"#e5e5e5\"/><text x=\"" << ml - 5 << "\" y=\"" << py(v) + 4 << "\" text-anchor=\"end\">"
        << tick_label(v, ay.step) << "</text>\n";
    }
    o << "<rect x=\"" << ml << "\" y=\"" << mt << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
    o << "<text x=\"" << ml + pw / 2 << "\" y=\"" << mt + ph + 32 << "\" text-anchor=\"middle\">"
      << xml_escape(opt.x_label + (log_x ? " (log scale)" : "")) << "</text>\n";
    o << "<text transform=\"translate(14," << mt + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << xml_escape(opt.y_label) << "</text>\n";
  }
  double px(double x) const { return ml + ((log_x ? std::log10(x) : x) - ax.lo) / (ax.hi - ax.lo) * pw; }
  double py(double y) const { return mt + ph - (y - ay.lo) / (ay.hi - ay.lo) * ph; }

  // Legend (three entries per row under the x label) and the closing tag.
  std::string finish(const std::vector<std::string>& labels, const std::vector<std::string>& colours) {
    for (size_t k = 0; k < labels.size(); ++k) {
      const double lx = ml + static_cast<double>(k % 3) * (pw / 3), ly = mt + ph + 48 + 16.0 * static_cast<double>(k / 3);
      o << "<rect x=\"" << lx << "\" y=\"" << ly - 8 << "\" width=\"14\" height=\"4\" fill=\"" << colours[k]
        << "\"/><text x=\"" << lx + 18 << "\" y=\"" << ly - 3 << "\">" << xml_escape(labels[k]) << "</text>\n";
    }
    o << "</svg>\n";
    return o.str();
  }
};

// The extent of the finite points of `series` (x in log10 with log_x, positive x only).
struct Extent {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  void add_x(double x, bool log_x) {
    if (log_x && !(x > 0)) return;
    const double v = log_x ? std::log10(x) : x;
    if (!std::isfinite(v)) return;
    x0 = std::min(x0, v);
    x1 = std::max(x1, v);
  }
  void add_y(double y) {
    if (!std::isfinite(y)) return;
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
  }
};

}  // namespace

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt) {
  Extent e;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      e.add_x(s.x[i], opt.log_x);
      e.add_y(s.lo.empty() ? s.y[i] : s.lo[i]);
      e.add_y(s.hi.empty() ? s.y[i] : s.hi[i]);
      e.add_y(s.y[i]);
    }
  Frame f(opt, e.x0, e.x1, e.y0, e.y1, series.size());
  std::ostringstream& o = f.o;
  // Bands, then lines (so every line is drawn over every band).
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    if (s.lo.empty() || s.x.size() < 2) continue;
    o << "<polygon fill=\"" << kColours[k % 10] << "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"";
    for (size_t i = 0; i < s.x.size(); ++i) o << f.px(s.x[i]) << "," << f.py(s.hi[i]) << " ";
    for (size_t i = s.x.size(); i-- > 0;) o << f.px(s.x[i]) << "," << f.py(s.lo[i]) << " ";
    o << "\"/>\n";
  }
  std::vector<std::string> labels, colours;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    o << "<polyline fill=\"none\" stroke=\"" << kColours[k % 10] << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) o << f.px(s.x[i]) << "," << f.py(s.y[i]) << " ";
    o << "\"><title>" << xml_escape(s.label) << "</title></polyline>\n";
    if (s.x.size() == 1)
      o << "<circle cx=\"" << f.px(s.x[0]) << "\" cy=\"" << f.py(s.y[0]) << "\" r=\"3\" fill=\"" << kColours[k % 10]
        << "\"/>\n";
    labels.push_back(s.label);
    colours.push_back(kColours[k % 10]);
  }
  return f.finish(labels, colours);
}

std::string svg_scatter_plot(const std::vector<ScatterSeries>& series, const PlotOptions& opt) {
  Extent e;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      e.add_x(s.x[i], opt.log_x);
      if (!s.failed) e.add_y(s.y[i]);
    }
  Frame f(opt, e.x0, e.x1, e.y0, e.y1, series.size());
  std::ostringstream& o = f.o;
  std::vector<std::string> labels, colours;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const std::string colour = s.failed ? "#d62728" : kColours[k % 10];
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (opt.log_x && !(s.x[i] > 0)) continue;
      const double x = f.px(s.x[i]);
      if (s.failed) {  // a cross on the bottom edge
        const double y = f.mt + f.ph - 5;
        o << "<path d=\"M" << x - 4 << "," << y - 4 << "L" << x + 4 << "," << y + 4 << "M" << x - 4 << "," << y + 4 << "L"
          << x + 4 << "," << y - 4 << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>\n";
      } else if (std::isfinite(s.y[i])) {
        o << "<circle cx=\"" << x << "\" cy=\"" << f.py(s.y[i]) << "\" r=\"3.5\" fill=\"" << colour
          << "\" fill-opacity=\"0.8\"/>\n";
      }
    }
    labels.push_back(s.label);
    colours.push_back(colour);
  }
  return f.finish(labels, colours);
}

}  // namespace ng::app
