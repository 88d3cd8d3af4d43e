// apps/report_curves.cpp — report.html's curves: accuracy and loss per epoch and against wall time,
// train loss per logged step, the scheduled hyper-parameters, skipped steps and divergence.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "apps/report_sections.h"

namespace ng::app {

namespace {

// A group's line in its family colour and variant dash, toggled by the config name.
PlotSeries styled(const ReportGroup& g) {
  PlotSeries s;
  s.label = g.name;
  s.colour = g.style.colour;
  s.dash = g.style.dash;
  s.key = g.name;
  return s;
}

}  // namespace

PlotSeries epoch_curve(const ReportGroup& g, const std::string& y_key, const std::string& x_key) {
  PlotSeries s = styled(g);
  size_t longest = 0;
  for (const RunRecord* r : g.runs) longest = std::max(longest, r->epochs.size());
  for (size_t e = 0; e < longest; ++e) {
    std::vector<double> xs, ys;
    for (const RunRecord* r : g.runs) {
      if (e >= r->epochs.size() || !std::isfinite(number_at(r->epochs[e], y_key.c_str()))) continue;
      ys.push_back(number_at(r->epochs[e], y_key.c_str()));
      xs.push_back(number_at(r->epochs[e], x_key.c_str()));
    }
    if (ys.empty()) continue;
    s.x.push_back(x_key == "time" ? stat_of(xs).mean / 60.0 : stat_of(xs).mean);
    s.y.push_back(stat_of(ys).mean);
    s.lo.push_back(*std::min_element(ys.begin(), ys.end()));
    s.hi.push_back(*std::max_element(ys.begin(), ys.end()));
  }
  if (g.runs.size() < 2) s.lo.clear(), s.hi.clear();
  return s;
}

namespace {

// The group's train-line value `key` per step, averaged over its runs: from "scheduled" when the line
// has it there (every hyper-parameter a schedule drives), else the line's own key (e.g. "lr", "loss").
std::map<int64_t, double> per_step(const ReportGroup& g, const std::string& key) {
  std::map<int64_t, std::pair<double, int>> acc;
  for (const RunRecord* r : g.runs)
    for (const auto& line : r->train) {
      const bool nested = line.contains("scheduled") && line["scheduled"].is_object() && line["scheduled"].contains(key);
      const double v = number_at(nested ? line["scheduled"] : line, key.c_str());
      const double step = number_at(line, "step");
      if (!std::isfinite(v) || !std::isfinite(step)) continue;
      auto& [sum, n] = acc[static_cast<int64_t>(step)];
      sum += v;
      ++n;
    }
  std::map<int64_t, double> out;
  for (const auto& [step, sn] : acc) out[step] = sn.first / sn.second;
  return out;
}

}  // namespace

std::vector<PlotSeries> step_loss(const std::vector<ReportGroup>& groups) {
  std::vector<PlotSeries> raw, smooth;
  for (const auto& g : groups) {
    PlotSeries r = styled(g);
    for (const auto& [step, v] : per_step(g, "loss")) {
      r.x.push_back(static_cast<double>(step));
      r.y.push_back(v);
    }
    if (r.x.empty()) continue;
    PlotSeries s = r;
    s.y = smooth_ema(r.y, smoothing_weight(r.y.size()));
    r.label += " (logged)";
    r.dash.clear();
    r.width = 1.0;
    r.opacity = 0.3;
    r.in_legend = false;
    raw.push_back(std::move(r));
    smooth.push_back(std::move(s));
  }
  raw.insert(raw.end(), smooth.begin(), smooth.end());
  return raw;
}

std::vector<PlotMarker> step_markers(const std::vector<ReportGroup>& groups) {
  std::vector<PlotMarker> out;
  for (const auto& g : groups)
    for (const RunRecord* r : g.runs)
      for (const auto& e : r->events) {
        const std::string ev = text_at(e, "event", ""), seed = r->config.contains("seed") ? r->config["seed"].dump() : "?";
        PlotMarker m;
        m.x = number_at(e, "step");
        if (ev == "skipped_step") {
          m.colour = g.style.colour;
          m.label = g.name + " seed " + seed + ": step " + std::to_string(static_cast<int64_t>(m.x)) + " skipped (" +
                    text_at(e, "reason", "?") + " in '" + text_at(e, "where", "?") + "')";
        } else if (ev == "diverged") {
          m.line = true;
          m.label = g.name + " seed " + seed + ": " + text_at(e, "message", "diverged");
        } else {
          continue;
        }
        out.push_back(m);
      }
  return out;
}

std::string curves_section(const std::vector<ReportGroup>& groups) {
  struct P {
    const char *y, *x, *title, *xl, *yl;
  };
  std::string out = "<div class=\"plots\">\n";
  for (const P& p : {P{"test_accuracy", "epoch", "Test accuracy vs epoch", "epoch", "test accuracy"},
                     P{"test_accuracy", "time", "Test accuracy vs wall time", "wall time (min)", "test accuracy"},
                     P{"train_loss", "epoch", "Train loss vs epoch", "epoch", "train loss (epoch mean)"},
                     P{"train_loss", "time", "Train loss vs wall time", "wall time (min)", "train loss (epoch mean)"}}) {
    std::vector<PlotSeries> series;
    for (const auto& g : groups)
      if (auto c = epoch_curve(g, p.y, p.x); !c.x.empty()) series.push_back(std::move(c));
    PlotOptions opt{p.title, p.xl, p.yl};
    opt.legend = false;
    out += svg_line_plot(series, opt);
  }
  const auto loss = step_loss(groups);
  PlotOptions opt{"Train loss per step", "step", "train loss (per log interval)"};
  opt.legend = false;
  opt.markers = step_markers(groups);
  if (!loss.empty() || !opt.markers.empty()) out += svg_line_plot(loss, opt);
  out += "</div>\n";
  if (!loss.empty() || !opt.markers.empty())
    out += "<p class=\"note\">Train loss per step: faint, the mean loss of each log interval; bold, its exponential "
           "moving average (bias-corrected, weight 1 − 20/points, in [0.5, 0.98]). Triangles: skipped steps; dashed red "
           "lines: divergence (hover for details).</p>\n";
  return out;
}

std::string schedules_section(const std::vector<ReportGroup>& groups) {
  std::set<std::string> names;
  for (const auto& g : groups)
    for (const RunRecord* r : g.runs)
      for (const auto& line : r->train) {
        if (line.contains("lr")) names.insert("lr");
        if (line.contains("scheduled") && line["scheduled"].is_object())
          for (const auto& [k, v] : line["scheduled"].items()) names.insert(k);
      }
  if (names.empty()) return "";
  std::string out = "<h2>Learning rate and scheduled hyper-parameters</h2>\n<div class=\"plots\">\n";
  for (const auto& name : names) {
    std::vector<PlotSeries> series;
    std::vector<double> all;
    for (const auto& g : groups) {
      PlotSeries s = styled(g);
      for (const auto& [step, v] : per_step(g, name)) {
        s.x.push_back(static_cast<double>(step));
        s.y.push_back(v);
      }
      all.insert(all.end(), s.y.begin(), s.y.end());
      if (!s.x.empty()) series.push_back(std::move(s));
    }
    if (series.empty()) continue;  // named, but never with a number
    PlotOptions opt{name + " per step", "step", name};
    opt.log_y = prefers_log_axis(all);
    if (opt.log_y) opt.y_label += " (log scale)";
    opt.width = 420;
    opt.height = 260;
    opt.legend = false;
    out += svg_line_plot(series, opt);
  }
  return out + "</div>\n";
}

}  // namespace ng::app
