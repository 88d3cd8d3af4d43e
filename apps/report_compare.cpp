// apps/report_compare.cpp — report.html's views for comparisons of many configs: the page legend
// (click toggles a config everywhere), small multiples per optimizer family, and accuracy against
// training time and optimizer-state memory.
#include <algorithm>
#include <cmath>

#include "apps/report_sections.h"

namespace ng::app {

namespace {

const char* kFamilies[] = {"sgd", "adamw", "singd", "ikfac", "kfac", "other"};

std::vector<ReportGroup> of_family(const std::vector<ReportGroup>& groups, const std::string& family) {
  std::vector<ReportGroup> out;
  for (const auto& g : groups)
    if (g.style.family == family) out.push_back(g);
  return out;
}

// Mean ± std over the group's finished runs of summary[key] × scale.
Stat summary_stat(const ReportGroup& g, const char* key, double scale) {
  std::vector<double> v;
  for (const RunRecord* r : g.runs)
    if (std::isfinite(number_at(r->summary, key))) v.push_back(number_at(r->summary, key) * scale);
  return stat_of(v);
}

// One point per group (x: summary[x_key] × x_scale), on a log x axis when the values span a decade.
std::string scatter(const std::vector<ReportGroup>& groups, const char* x_key, double x_scale, PlotOptions opt) {
  std::vector<ScatterPoint> points;
  std::vector<double> xs;
  for (const auto& g : groups) {
    const Stat x = summary_stat(g, x_key, x_scale), y = summary_stat(g, "final_test_accuracy", 100.0);
    if (x.n == 0 || y.n == 0) continue;
    points.push_back({g.name, x.mean, y.mean, x.std, y.std, g.style.colour, g.name});
    xs.push_back(x.mean);
  }
  opt.log_x = prefers_log_axis(xs);
  if (opt.log_x) opt.x_label += " (log scale)";
  return svg_scatter_plot(points, opt);
}

}  // namespace

std::string legend_html(const std::vector<ReportGroup>& groups) {
  std::string out = "<div class=\"legend\">\n";
  for (const char* family : kFamilies) {
    const auto members = of_family(groups, family);
    if (members.empty()) continue;
    out += "<div><b>" + std::string(family) + "</b>";
    for (const auto& g : members) {
      out += " <span class=\"lg\" data-toggle=\"" + xml_escape(g.name) + "\"><svg width=\"28\" height=\"10\">"
             "<line x1=\"0\" y1=\"5\" x2=\"28\" y2=\"5\" stroke=\"" + g.style.colour + "\" stroke-width=\"3\"" +
             (g.style.dash.empty() ? "" : " stroke-dasharray=\"" + g.style.dash + "\"") + "/></svg>" +
             xml_escape(g.name) + "</span>";
    }
    out += "</div>\n";
  }
  return out + "<p class=\"note\">Colour: optimizer family (shades: variants); dashed: bf16. Click a config to hide "
               "or show its lines in every plot.</p></div>\n";
}

std::string families_section(const std::vector<ReportGroup>& groups) {
  size_t families = 0;
  for (const char* family : kFamilies) families += of_family(groups, family).empty() ? 0 : 1;
  if (families < 2 || groups.size() < 4) return "";
  std::string out = "<h2>By optimizer family</h2>\n<div class=\"plots\">\n";
  for (const char* family : kFamilies) {
    const auto members = of_family(groups, family);
    if (members.empty()) continue;
    std::vector<PlotSeries> acc;
    for (const auto& g : members)
      if (auto c = epoch_curve(g, "test_accuracy", "epoch"); !c.x.empty()) acc.push_back(std::move(c));
    PlotOptions opt{std::string(family) + ": test accuracy vs epoch", "epoch", "test accuracy"};
    opt.width = 440;
    size_t longest = 0;
    for (const auto& g : members) longest = std::max(longest, g.name.size());
    const int cols = legend_columns(longest, opt.width - 78.0);
    opt.height = 240 + 16 * static_cast<int>((members.size() + cols - 1) / cols);  // room for the legend
    out += svg_line_plot(acc, opt);
    auto loss = step_loss(members);
    if (loss.empty()) continue;
    opt.title = std::string(family) + ": train loss per step";
    opt.x_label = "step";
    opt.y_label = "train loss";
    out += svg_line_plot(loss, opt);
  }
  return out + "</div>\n";
}

std::string cost_section(const std::vector<ReportGroup>& groups) {
  if (groups.size() < 2) return "";
  std::string out = "<h2>Accuracy against cost</h2>\n<div class=\"plots\">\n";
  PlotOptions opt{"Final test accuracy vs training time", "total run time (min)", "final test accuracy (%)"};
  opt.height = 380;
  out += scatter(groups, "total_seconds", 1.0 / 60.0, opt);
  opt.title = "Final test accuracy vs optimizer-state memory";
  opt.x_label = "optimizer state (MiB)";
  out += scatter(groups, "optimizer_state_bytes", 1.0 / (1024.0 * 1024.0), opt);
  return out + "</div>\n<p class=\"note\">Points: mean over a config's seeds; bars: ± one sample standard deviation "
               "(none for a single seed).</p>\n";
}

}  // namespace ng::app
