// apps/tune_report.cpp — trial outcomes, ranking and the report page of `natgrad tune` (tune_report.h).
#include "apps/tune_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/report.h"
#include "apps/svg_plot.h"

namespace ng::app {

std::vector<TrialOutcome> rank_trials(const std::vector<nlohmann::json>& records, int64_t trials,
                                      const std::vector<int64_t>& rungs) {
  std::vector<TrialOutcome> out(static_cast<size_t>(trials));
  for (int64_t t = 0; t < trials; ++t) {
    out[t].trial = t;
    out[t].rung_accuracy.assign(rungs.size(), -1.0);
  }
  for (const auto& r : records) {
    const int64_t t = r.value("trial", int64_t{-1}), k = r.value("rung", int64_t{-1});
    if (t < 0 || t >= trials || k < 0 || k >= static_cast<int64_t>(rungs.size())) continue;
    TrialOutcome& o = out[t];
    const bool ok = r.value("status", "") == "ok";
    if (ok) o.rung_accuracy[k] = r.value("val_accuracy", -1.0);
    if (r.value("epochs", int64_t{0}) < o.epochs) continue;
    o.epochs = r.value("epochs", int64_t{0});
    o.status = ok ? (k + 1 == static_cast<int64_t>(rungs.size()) ? "completed" : "halted") : r.value("status", "failed");
    o.val_accuracy = ok ? o.rung_accuracy[k] : -1.0;
    o.error = r.value("error", "");
  }
  std::stable_sort(out.begin(), out.end(), [](const TrialOutcome& a, const TrialOutcome& b) {
    if (a.epochs != b.epochs) return a.epochs > b.epochs;
    return a.val_accuracy > b.val_accuracy;
  });
  return out;
}

namespace {

std::string percent(double a) {
  if (a < 0) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100.0 * a);
  return buf;
}

std::string trials_table(const TuneReportInput& in, const std::vector<TrialOutcome>& ranked) {
  std::string out = "<table>\n<tr><th>trial</th><th>status</th>";
  for (int64_t r : in.rungs) out += "<th>val acc @ " + std::to_string(r) + " ep (%)</th>";
  for (const auto& p : in.params) out += "<th>" + xml_escape(p.key) + "</th>";
  out += "</tr>\n";
  for (const auto& o : ranked) {
    out += "<tr><td>t" + std::to_string(o.trial) + "</td><td title=\"" + xml_escape(o.error) + "\">" + o.status + "</td>";
    for (double a : o.rung_accuracy) out += "<td>" + percent(a) + "</td>";
    const TuneSetting& s = in.settings[o.trial];
    for (const auto& p : in.params) out += "<td>" + xml_escape(s.contains(p.key) ? s[p.key].dump() : "–") + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

bool categorical(const TuneParam& p) {
  return p.kind == "choice" && !std::all_of(p.values.begin(), p.values.end(), [](const auto& c) { return c.is_number(); });
}

// The plotted x of a value: the number itself, or a choice's index when the choices are not all numbers.
double plot_x(const TuneParam& p, const nlohmann::json& v) {
  if (!categorical(p)) return v.is_number() ? v.get<double>() : NAN;
  for (size_t i = 0; i < p.values.size(); ++i)
    if (p.values[i] == v) return static_cast<double>(i);
  return NAN;
}

// Dots: a trial's validation accuracy at each rung it reached, darker for longer rungs; failed or diverged
// trials: red triangles on the x axis at their value.
std::string sensitivity_plot(const TuneReportInput& in, const TuneParam& p) {
  static const char* kRungColours[] = {"#9ecae1", "#4292c6", "#08519c", "#08306b"};
  std::vector<ScatterPoint> points;
  PlotOptions opt{p.key, p.key, "validation accuracy"};
  opt.log_x = p.kind == "log_uniform";
  for (const auto& r : in.records) {
    const int64_t t = r.value("trial", int64_t{-1}), k = r.value("rung", int64_t{-1});
    if (t < 0 || t >= static_cast<int64_t>(in.settings.size()) || k < 0 || k >= static_cast<int64_t>(in.rungs.size()))
      continue;
    if (!in.settings[t].contains(p.key)) continue;
    const double x = plot_x(p, in.settings[t][p.key]);
    const std::string label = std::string("t").append(std::to_string(t));
    if (r.value("status", "") == "ok")
      points.push_back({label, x, r.value("val_accuracy", NAN), 0.0, 0.0, kRungColours[std::min<int64_t>(k, 3)]});
    else
      opt.markers.push_back({x, label + " " + r.value("status", std::string("failed"))});
  }
  if (opt.log_x) opt.x_label += " (log scale)";
  if (categorical(p)) {
    opt.x_label += " (index in";
    for (const auto& v : p.values) opt.x_label.append(" ").append(v.dump());
    opt.x_label += ")";
  }
  return svg_scatter_plot(points, opt);
}

}  // namespace

std::string tune_report_html(const TuneReportInput& in) {
  std::string out = html_page_start(in.title);
  const auto ranked = rank_trials(in.records, static_cast<int64_t>(in.settings.size()), in.rungs);
  std::string rungs;
  for (int64_t r : in.rungs) rungs += (rungs.empty() ? "" : ", ") + std::to_string(r);
  out += "<p>" + std::to_string(in.settings.size()) + " trial(s); rungs at " + rungs +
         " epoch(s). Selection uses the validation split only. Sensitivity plots: one dot per trial and rung "
         "it reached (darker: longer rung), red triangles on the x axis: diverged or failed trials.</p>\n";
  out += "<h2>Sensitivity</h2>\n<div class=\"plots\">\n";
  for (const auto& p : in.params) out += sensitivity_plot(in, p);
  out += "</div>\n<h2>Trials (best first)</h2>\n" + trials_table(in, ranked);
  return out + "</body></html>\n";
}

}  // namespace ng::app
