// apps/svg_plot.cpp — axes, line plots with bands and markers, scatter plots (see svg_plot.h).
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

std::string tick_label(double v, double step) {
  char buf[32];
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), std::abs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

std::string log_label(double v) {
  char buf[32];
  const double e = std::log10(v);
  if (e > -2.5 && e < 3.5) std::snprintf(buf, sizeof buf, "%g", v);
  else std::snprintf(buf, sizeof buf, "%.0e", v);
  return buf;
}

// A number in at most 3 significant digits: 0.012, 350, 1.2e+04.
std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

const std::string& colour_of(const std::string& own, size_t index, std::string& scratch) {
  scratch = own.empty() ? kColours[index % 10] : own;
  return scratch;
}

// Plot area and axes of one plot; `legend_rows` rows of legend are kept free under the x label.
struct Frame {
  AxisTicks x, y;
  double ml = 62, mr = 16, mt = 30, mb = 46, pw = 0, ph = 0;
  Frame(AxisTicks ax, AxisTicks ay, const PlotOptions& opt, size_t legend_rows)
      : x(std::move(ax)), y(std::move(ay)) {
    mb += 16.0 * static_cast<double>(legend_rows);
    pw = opt.width - ml - mr;
    ph = opt.height - mt - mb;
  }
  double px(double v) const { return ml + x.frac(v) * pw; }
  double py(double v) const { return mt + ph - y.frac(v) * ph; }
  bool visible(double vx, double vy) const {
    return std::isfinite(vx) && std::isfinite(vy) && (!x.log || vx > 0) && (!y.log || vy > 0);
  }
};

void open_svg(std::ostringstream& o, const PlotOptions& opt) {
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << opt.width << "\" height=\"" << opt.height
    << "\" viewBox=\"0 0 " << opt.width << " " << opt.height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << opt.width / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
    << xml_escape(opt.title) << "</text>\n";
}

void draw_axes(std::ostringstream& o, const Frame& f, const PlotOptions& opt) {
  for (size_t i = 0; i < f.x.ticks.size(); ++i) {
    const double v = f.px(f.x.ticks[i]);
    o << "<line x1=\"" << v << "\" y1=\"" << f.mt << "\" x2=\"" << v << "\" y2=\"" << f.mt + f.ph
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << v << "\" y=\"" << f.mt + f.ph + 14 << "\" text-anchor=\"middle\">"
      << f.x.labels[i] << "</text>\n";
  }
  for (size_t i = 0; i < f.y.ticks.size(); ++i) {
    const double v = f.py(f.y.ticks[i]);
    o << "<line x1=\"" << f.ml << "\" y1=\"" << v << "\" x2=\"" << f.ml + f.pw << "\" y2=\"" << v
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << f.ml - 5 << "\" y=\"" << v + 4 << "\" text-anchor=\"end\">"
      << f.y.labels[i] << "</text>\n";
  }
  o << "<rect x=\"" << f.ml << "\" y=\"" << f.mt << "\" width=\"" << f.pw << "\" height=\"" << f.ph
    << "\" fill=\"none\" stroke=\"#444\"/>\n";
  o << "<text x=\"" << f.ml + f.pw / 2 << "\" y=\"" << f.mt + f.ph + 32 << "\" text-anchor=\"middle\">"
    << xml_escape(opt.x_label) << "</text>\n";
  o << "<text transform=\"translate(14," << f.mt + f.ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << xml_escape(opt.y_label) << "</text>\n";
}

// ' class="s" data-key="KEY"' for a toggleable element, nothing otherwise.
std::string key_attr(const std::string& key) {
  return key.empty() ? "" : " class=\"s\" data-key=\"" + xml_escape(key) + "\"";
}

AxisTicks axis_over(double lo, double hi, bool log, int target) {
  if (log && lo > 0 && std::isfinite(lo)) return log_ticks(lo, hi);
  return linear_ticks(lo, hi, target);
}

// The range of the values a plot shows, with only positive ones on a log axis.
struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v, bool log) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

void draw_band(std::ostringstream& o, const Frame& f, const PlotSeries& s, const std::string& colour) {
  if (s.lo.size() != s.x.size() || s.hi.size() != s.x.size() || s.x.size() < 2) return;
  o << "<polygon" << key_attr(s.key) << " fill=\"" << colour << "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"";
  for (size_t i = 0; i < s.x.size(); ++i)
    if (f.visible(s.x[i], s.hi[i])) o << f.px(s.x[i]) << "," << f.py(s.hi[i]) << " ";
  for (size_t i = s.x.size(); i-- > 0;)
    if (f.visible(s.x[i], s.lo[i])) o << f.px(s.x[i]) << "," << f.py(s.lo[i]) << " ";
  o << "\"/>\n";
}

void draw_line(std::ostringstream& o, const Frame& f, const PlotSeries& s, const std::string& colour) {
  o << "<polyline" << key_attr(s.key) << " fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"" << s.width
    << "\"";
  if (!s.dash.empty()) o << " stroke-dasharray=\"" << s.dash << "\"";
  if (s.opacity < 1.0) o << " stroke-opacity=\"" << s.opacity << "\"";
  o << " points=\"";
  size_t drawn = 0, last = 0;
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
    if (f.visible(s.x[i], s.y[i])) {
      o << f.px(s.x[i]) << "," << f.py(s.y[i]) << " ";
      ++drawn;
      last = i;
    }
  o << "\"><title>" << xml_escape(s.label) << "</title></polyline>\n";
  if (drawn == 1)
    o << "<circle" << key_attr(s.key) << " cx=\"" << f.px(s.x[last]) << "\" cy=\"" << f.py(s.y[last])
      << "\" r=\"3\" fill=\"" << colour << "\"/>\n";
}

void draw_markers(std::ostringstream& o, const Frame& f, const std::vector<PlotMarker>& markers) {
  for (const auto& m : markers) {
    if (!std::isfinite(m.x) || (f.x.log && m.x <= 0) || f.x.frac(m.x) < -1e-9 || f.x.frac(m.x) > 1 + 1e-9) continue;
    const double x = f.px(m.x), b = f.mt + f.ph;
    if (m.line)
      o << "<line x1=\"" << x << "\" y1=\"" << f.mt << "\" x2=\"" << x << "\" y2=\"" << b << "\" stroke=\""
        << m.colour << "\" stroke-width=\"1.5\" stroke-dasharray=\"4,3\">";
    else
      o << "<path d=\"M" << x << "," << b - 7 << " l-4,7 h8 z\" fill=\"" << m.colour << "\">";
    o << "<title>" << xml_escape(m.label) << "</title>" << (m.line ? "</line>\n" : "</path>\n");
  }
}

size_t longest_legend_label(const std::vector<PlotSeries>& series) {
  size_t n = 0;
  for (const auto& s : series)
    if (s.in_legend) n = std::max(n, s.label.size());
  return n;
}

// Legend entries (`cols` per row under the x label): a swatch in the series' colour and dash.
void draw_legend(std::ostringstream& o, const Frame& f, const std::vector<PlotSeries>& series, int cols) {
  size_t k = 0;
  std::string scratch;
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    if (!s.in_legend) continue;
    const size_t c = static_cast<size_t>(cols);
    const double lx = f.ml + static_cast<double>(k % c) * (f.pw / cols), ly = f.mt + f.ph + 48 + 16.0 * static_cast<double>(k / c);
    ++k;
    o << "<g" << (s.key.empty() ? "" : " class=\"lg\" data-toggle=\"" + xml_escape(s.key) + "\"")
      << "><line x1=\"" << lx << "\" y1=\"" << ly - 6 << "\" x2=\"" << lx + 16 << "\" y2=\"" << ly - 6
      << "\" stroke=\"" << colour_of(s.colour, i, scratch) << "\" stroke-width=\"3\""
      << (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") << "/><text x=\"" << lx + 20 << "\" y=\""
      << ly - 2 << "\">" << xml_escape(s.label) << "</text></g>\n";
  }
}

}  // namespace

double AxisTicks::frac(double v) const {
  if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  return (v - lo) / (hi - lo);
}

AxisTicks linear_ticks(double a, double b, int target_ticks) {
  if (!(a <= b) || !std::isfinite(a) || !std::isfinite(b)) a = 0, b = 1;
  if (b - a < 1e-12) {
    const double pad = std::max(std::abs(a) * 0.1, 1e-3);
    a -= pad;
    b += pad;
  }
  AxisTicks t;
  const double step = nice_step(b - a, target_ticks);
  t.lo = std::floor(a / step) * step;
  t.hi = std::ceil(b / step) * step;
  for (double v = t.lo; v <= t.hi + step * 1e-6; v += step) {
    t.ticks.push_back(v);
    t.labels.push_back(tick_label(v, step));
  }
  return t;
}

AxisTicks log_ticks(double a, double b) {
  if (!(a > 0) || !(b >= a) || !std::isfinite(b)) a = 1, b = 10;
  AxisTicks t;
  t.log = true;
  int e0 = static_cast<int>(std::floor(std::log10(a) + 1e-9)), e1 = static_cast<int>(std::ceil(std::log10(b) - 1e-9));
  if (e1 <= e0) e1 = e0 + 1;
  t.lo = std::pow(10.0, e0);
  t.hi = std::pow(10.0, e1);
  const int every = (e1 - e0 + 7) / 8;
  for (int e = e0; e <= e1; ++e) {
    const double d = std::pow(10.0, e);
    if ((e - e0) % every == 0) {
      t.ticks.push_back(d);
      t.labels.push_back(log_label(d));
    }
    if (e1 - e0 > 2 || e == e1) continue;
    for (double m : {2.0, 5.0}) {
      t.ticks.push_back(m * d);
      t.labels.push_back(log_label(m * d));
    }
  }
  return t;
}

bool prefers_log_axis(const std::vector<double>& values) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v <= 0) return false;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return hi > 0 && hi >= 10.0 * lo;
}

int legend_columns(size_t longest_label, double plot_width) {
  const double entry = 26.0 + 6.5 * static_cast<double>(longest_label);  // swatch + text at font-size 11
  return std::clamp(static_cast<int>(plot_width / entry), 1, 3);
}

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
  Range rx, ry;
  size_t entries = 0;
  for (const auto& s : series) {
    entries += s.in_legend ? 1 : 0;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      rx.add(s.x[i], opt.log_x);
      ry.add(s.y[i], opt.log_y);
      if (i < s.lo.size() && i < s.hi.size()) ry.add(s.lo[i], opt.log_y), ry.add(s.hi[i], opt.log_y);
    }
  }
  for (const auto& m : opt.markers) rx.add(m.x, opt.log_x);
  const int cols = legend_columns(longest_legend_label(series), opt.width - 78.0);
  const size_t legend_rows = opt.legend ? (entries + cols - 1) / cols : 0;
  const Frame f(axis_over(rx.lo, rx.hi, opt.log_x, 6), axis_over(ry.lo, ry.hi, opt.log_y, 5), opt, legend_rows);
  std::ostringstream o;
  open_svg(o, opt);
  draw_axes(o, f, opt);
  std::string scratch;
  for (size_t k = 0; k < series.size(); ++k) draw_band(o, f, series[k], colour_of(series[k].colour, k, scratch));
  for (size_t k = 0; k < series.size(); ++k) draw_line(o, f, series[k], colour_of(series[k].colour, k, scratch));
  draw_markers(o, f, opt.markers);
  if (opt.legend) draw_legend(o, f, series, cols);
  o << "</svg>\n";
  return o.str();
}

std::string svg_scatter_plot(const std::vector<ScatterPoint>& points, const PlotOptions& opt) {
  Range rx, ry;
  for (const auto& p : points) {
    rx.add(p.x - p.x_err, opt.log_x), rx.add(p.x + p.x_err, opt.log_x), rx.add(p.x, opt.log_x);
    ry.add(p.y - p.y_err, opt.log_y), ry.add(p.y + p.y_err, opt.log_y), ry.add(p.y, opt.log_y);
  }
  for (const auto& m : opt.markers) rx.add(m.x, opt.log_x);
  const Frame f(axis_over(rx.lo, rx.hi, opt.log_x, 6), axis_over(ry.lo, ry.hi, opt.log_y, 5), opt, 0);
  std::ostringstream o;
  open_svg(o, opt);
  draw_axes(o, f, opt);
  draw_markers(o, f, opt.markers);
  std::string scratch;
  for (size_t k = 0; k < points.size(); ++k) {
    const auto& p = points[k];
    if (!f.visible(p.x, p.y)) continue;
    const std::string& c = colour_of(p.colour, k, scratch);
    const double x = f.px(p.x), y = f.py(p.y);
    o << "<g" << key_attr(p.key) << " stroke=\"" << c << "\"><title>" << xml_escape(p.label) << "</title>";
    if (p.x_err > 0 && f.visible(p.x - p.x_err, p.y))
      o << "<line x1=\"" << f.px(p.x - p.x_err) << "\" y1=\"" << y << "\" x2=\"" << f.px(p.x + p.x_err) << "\" y2=\"" << y << "\"/>";
    if (p.y_err > 0 && f.visible(p.x, p.y - p.y_err))
      o << "<line x1=\"" << x << "\" y1=\"" << f.py(p.y - p.y_err) << "\" x2=\"" << x << "\" y2=\"" << f.py(p.y + p.y_err) << "\"/>";
    const bool right_edge = f.x.frac(p.x) > 0.75;  // labels of points near the right edge go to their left
    o << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"4\" fill=\"" << c << "\"/><text x=\""
      << (right_edge ? x - 6 : x + 6) << "\" y=\"" << y - 5 << "\"" << (right_edge ? " text-anchor=\"end\"" : "")
      << " font-size=\"9\" stroke=\"none\" fill=\"#333\">" << xml_escape(p.label) << "</text></g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

namespace {

// Column labels: about six columns' positions, evenly spread.
void heatmap_columns(std::ostringstream& o, const HeatmapData& d, const Frame& f, double cw) {
  const size_t n = d.columns.size(), every = std::max<size_t>(1, (n + 5) / 6);
  for (size_t c = 0; c < n; c += every)
    o << "<text x=\"" << f.ml + (static_cast<double>(c) + 0.5) * cw << "\" y=\"" << f.mt + f.ph + 14
      << "\" text-anchor=\"middle\">" << short_number(d.columns[c]) << "</text>\n";
}

}  // namespace

std::string svg_heatmap(const HeatmapData& d, const PlotOptions& opt) {
  Range r;
  for (const auto& row : d.values)
    for (double v : row) r.add(v, d.log_scale);
  const bool any = r.lo <= r.hi;
  const double lo = any ? (d.log_scale ? std::log10(r.lo) : r.lo) : 0.0, hi = any ? (d.log_scale ? std::log10(r.hi) : r.hi) : 1.0;
  Frame f(linear_ticks(0, 1, 1), linear_ticks(0, 1, 1), opt, 0);
  f.ml = 96;
  f.mr = 70;
  f.pw = opt.width - f.ml - f.mr;
  const double cw = f.pw / static_cast<double>(std::max<size_t>(1, d.columns.size()));
  const double rh = f.ph / static_cast<double>(std::max<size_t>(1, d.rows.size()));
  std::ostringstream o;
  open_svg(o, opt);
  for (size_t i = 0; i < d.rows.size() && i < d.values.size(); ++i) {
    const double y = f.mt + static_cast<double>(i) * rh;
    o << "<text x=\"" << f.ml - 4 << "\" y=\"" << y + rh / 2 + 4 << "\" text-anchor=\"end\">" << xml_escape(d.rows[i])
      << "</text>\n";
    for (size_t c = 0; c < d.columns.size() && c < d.values[i].size(); ++c) {
      const double v = d.values[i][c];
      const bool ok = std::isfinite(v) && (!d.log_scale || v > 0);
      const double t = ok && hi > lo ? ((d.log_scale ? std::log10(v) : v) - lo) / (hi - lo) : 0.5;
      o << "<rect class=\"cell\" x=\"" << f.ml + static_cast<double>(c) * cw << "\" y=\"" << y << "\" width=\"" << cw + 0.3
        << "\" height=\"" << rh + 0.3 << "\" fill=\"" << (ok ? heat_colour(t) : std::string("#d0d0d0")) << "\"><title>"
        << xml_escape(d.rows[i]) << " @ " << short_number(d.columns[c]) << ": " << short_number(v) << "</title></rect>\n";
    }
  }
  heatmap_columns(o, d, f, cw);
  o << "<text x=\"" << f.ml + f.pw / 2 << "\" y=\"" << f.mt + f.ph + 32 << "\" text-anchor=\"middle\">"
    << xml_escape(opt.x_label) << "</text>\n";
  const double bx = f.ml + f.pw + 10, bh = f.ph / 10;
  for (int k = 0; k < 10; ++k)
    o << "<rect x=\"" << bx << "\" y=\"" << f.mt + (9 - k) * bh << "\" width=\"12\" height=\"" << bh + 0.3
      << "\" fill=\"" << heat_colour((k + 0.5) / 10) << "\"/>\n";
  auto end_label = [&](double v) { return short_number(d.log_scale ? std::pow(10.0, v) : v); };
  o << "<text x=\"" << bx + 15 << "\" y=\"" << f.mt + 9 << "\">" << (any ? end_label(hi) : "") << "</text>\n<text x=\""
    << bx + 15 << "\" y=\"" << f.mt + f.ph << "\">" << (any ? end_label(lo) : "") << "</text>\n</svg>\n";
  return o.str();
}

std::string heat_colour(double t) {
  // Viridis sampled at 0, 0.25, 0.5, 0.75, 1 (matplotlib's colour map), linearly interpolated.
  static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const double s = t * 4.0;
  const int i = std::min(3, static_cast<int>(s));
  const double u = s - i;
  char buf[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k) rgb[k] = static_cast<int>(std::lround(stops[i][k] + u * (stops[i + 1][k] - stops[i][k])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

}  // namespace ng::app
