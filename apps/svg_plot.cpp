// apps/svg_plot.cpp — SVG line plots with bands (see svg_plot.h).
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
  // Widens [lo, hi] to whole ticks (a degenerate range gets some room).
  Axis(double a, double b, int ticks) {
    if (!(a <= b)) a = 0, b = 1;
    if (b - a < 1e-12) {
      const double pad = std::max(std::abs(a) * 0.1, 1e-3);
      a -= pad;
      b += pad;
    }
    step = nice_step(b - a, ticks);
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

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min({y0, s.y[i], s.lo.empty() ? s.y[i] : s.lo[i]});
      y1 = std::max({y1, s.y[i], s.hi.empty() ? s.y[i] : s.hi[i]});
    }
  const Axis ax(x0, x1, 6), ay(y0, y1, 5);
  const double ml = 62, mr = 16, mt = 30, mb = 46 + 16.0 * static_cast<double>((series.size() + 2) / 3);
  const double pw = opt.width - ml - mr, ph = opt.height - mt - mb;
  auto px = [&](double x) { return ml + (x - ax.lo) / (ax.hi - ax.lo) * pw; };
  auto py = [&](double y) { return mt + ph - (y - ay.lo) / (ay.hi - ay.lo) * ph; };

  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << opt.width << "\" height=\"" << opt.height
    << "\" viewBox=\"0 0 " << opt.width << " " << opt.height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << opt.width / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
    << xml_escape(opt.title) << "</text>\n";
  // Grid and ticks.
  for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step) {
    o << "<line x1=\"" << px(v) << "\" y1=\"" << mt << "\" x2=\"" << px(v) << "\" y2=\"" << mt + ph
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << px(v) << "\" y=\"" << mt + ph + 14 << "\" text-anchor=\"middle\">"
      << tick_label(v, ax.step) << "</text>\n";
  }
  for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
    o << "<line x1=\"" << ml << "\" y1=\"" << py(v) << "\" x2=\"" << ml + pw << "\" y2=\"" << py(v)
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << ml - 5 << "\" y=\"" << py(v) + 4 << "\" text-anchor=\"end\">"
      << tick_label(v, ay.step) << "</text>\n";
  }
  o << "<rect x=\"" << ml << "\" y=\"" << mt << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#444\"/>\n";
  o << "<text x=\"" << ml + pw / 2 << "\" y=\"" << mt + ph + 32 << "\" text-anchor=\"middle\">"
    << xml_escape(opt.x_label) << "</text>\n";
  o << "<text transform=\"translate(14," << mt + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << xml_escape(opt.y_label) << "</text>\n";
  // Bands, then lines (so every line is drawn over every band).
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    if (s.lo.empty() || s.x.size() < 2) continue;
    o << "<polygon fill=\"" << kColours[k % 10] << "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"";
    for (size_t i = 0; i < s.x.size(); ++i) o << px(s.x[i]) << "," << py(s.hi[i]) << " ";
    for (size_t i = s.x.size(); i-- > 0;) o << px(s.x[i]) << "," << py(s.lo[i]) << " ";
    o << "\"/>\n";
  }
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    o << "<polyline fill=\"none\" stroke=\"" << kColours[k % 10] << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) o << px(s.x[i]) << "," << py(s.y[i]) << " ";
    o << "\"><title>" << xml_escape(s.label) << "</title></polyline>\n";
    if (s.x.size() == 1)
      o << "<circle cx=\"" << px(s.x[0]) << "\" cy=\"" << py(s.y[0]) << "\" r=\"3\" fill=\"" << kColours[k % 10]
        << "\"/>\n";
  }
  // Legend: three entries per row under the x label.
  for (size_t k = 0; k < series.size(); ++k) {
    const double lx = ml + static_cast<double>(k % 3) * (pw / 3), ly = mt + ph + 48 + 16.0 * static_cast<double>(k / 3);
    o << "<rect x=\"" << lx << "\" y=\"" << ly - 8 << "\" width=\"14\" height=\"4\" fill=\"" << kColours[k % 10]
      << "\"/><text x=\"" << lx + 18 << "\" y=\"" << ly - 3 << "\">" << xml_escape(series[k].label) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace ng::app
