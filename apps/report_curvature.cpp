// apps/report_curvature.cpp — report.html's curvature section: the optimizer's per-layer diagnostics of
// curvature.jsonl (what they mean: docs/tour.md), each as a layer × step heatmap (log colour scale) and
// as per-layer lines on a log axis, with skipped steps and divergence marked.
#include <algorithm>
#include <cmath>
#include <map>

#include "apps/report_sections.h"

namespace ng::app {

namespace {

// Diagnostics in the order the page shows them, with a caption; keys not listed follow in name order.
const std::pair<const char*, const char*> kKnown[] = {
    {"update_grad_ratio", "‖update‖ / ‖gradient‖"},
    {"avgtr_H_K", "avgtr(H_K) (SINGD/IKFAC)"},
    {"avgtr_H_C", "avgtr(H_C) (SINGD/IKFAC)"},
    {"m_K_inf", "‖m_K‖∞ (SINGD/IKFAC)"},
    {"m_C_inf", "‖m_C‖∞ (SINGD/IKFAC)"},
    {"cond_KKt", "cond(KKᵀ) (dense K)"},
    {"cond_CCt", "cond(CCᵀ) (dense C)"},
    {"avgtr_A", "avgtr(A) (KFAC)"},
    {"avgtr_G", "avgtr(G) (KFAC)"}};
constexpr size_t kMaxColumns = 150;

std::vector<std::string> diagnostic_keys(const std::vector<nlohmann::json>& records) {
  std::vector<std::string> found;
  for (const auto& r : records)
    for (const auto& [k, v] : r.items())
      if (k != "step" && k != "epoch" && k != "layer" && std::find(found.begin(), found.end(), k) == found.end())
        found.push_back(k);
  std::vector<std::string> out;
  for (const auto& [k, caption] : kKnown)
    if (std::find(found.begin(), found.end(), k) != found.end()) out.push_back(k);
  std::sort(found.begin(), found.end());
  for (const auto& k : found)
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  return out;
}

std::string caption_of(const std::string& key) {
  for (const auto& [k, caption] : kKnown)
    if (key == k) return caption;
  return key;
}

// One diagnostic as a layer × step grid (layers in order of first appearance; at most kMaxColumns
// steps, every k-th when there are more).
HeatmapData grid_of(const std::vector<nlohmann::json>& records, const std::string& key) {
  std::vector<std::string> layers;
  std::vector<double> steps;
  std::map<std::pair<std::string, double>, double> at;
  for (const auto& r : records) {
    const double v = number_at(r, key.c_str()), step = number_at(r, "step");
    const std::string layer = text_at(r, "layer", "?");
    if (!r.contains(key) || !std::isfinite(step)) continue;
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
    steps.push_back(step);
    at[{layer, step}] = v;
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  HeatmapData d;
  d.rows = layers;
  const size_t every = (steps.size() + kMaxColumns - 1) / kMaxColumns;
  for (size_t c = 0; c < steps.size(); c += std::max<size_t>(1, every)) d.columns.push_back(steps[c]);
  for (const auto& layer : layers) {
    std::vector<double> row;
    for (double step : d.columns) {
      const auto it = at.find({layer, step});
      row.push_back(it == at.end() ? std::nan("") : it->second);
    }
    d.values.push_back(std::move(row));
  }
  return d;
}

std::string diagnostic_plots(const ReportGroup& g, const std::vector<nlohmann::json>& records, const std::string& key) {
  const HeatmapData d = grid_of(records, key);
  PlotOptions hm{caption_of(key) + ": layer × step", "step", ""};
  hm.height = std::max(200, 90 + 20 * static_cast<int>(d.rows.size()));
  std::vector<PlotSeries> lines;
  for (size_t i = 0; i < d.rows.size(); ++i) {
    PlotSeries s;
    s.label = d.rows[i];
    s.x = d.columns;
    s.y = d.values[i];
    lines.push_back(std::move(s));
  }
  PlotOptions lo{caption_of(key) + " per layer", "step", key + " (log scale)"};
  lo.log_y = true;
  lo.markers = step_markers({g});
  return "<div class=\"plots\">\n" + svg_heatmap(d, hm) + svg_line_plot(lines, lo) + "</div>\n";
}

}  // namespace

std::string curvature_section(const std::vector<ReportGroup>& groups) {
  std::string out;
  bool first = true;
  for (const auto& g : groups) {
    const auto it = std::find_if(g.runs.begin(), g.runs.end(), [](const RunRecord* r) { return !r->curvature.empty(); });
    if (it == g.runs.end()) continue;
    const RunRecord& run = **it;
    ReportGroup one = g;
    one.runs = {&run};
    out += std::string("<details") + (first ? " open" : "") + "><summary>" + xml_escape(g.name) + " — <code>" +
           xml_escape(run.dir) + "</code></summary>\n";
    for (const auto& key : diagnostic_keys(run.curvature)) out += diagnostic_plots(one, run.curvature, key);
    out += "</details>\n";
    first = false;
  }
  if (out.empty()) return "";
  return "<h2>Curvature diagnostics per layer</h2>\n<p class=\"note\">From each config's first run with "
         "<code>curvature.jsonl</code>. Heatmaps: one row per layer, one column per diagnostics step, colour on a "
         "log scale (grey: missing, non-finite or not positive). What each diagnostic shows: docs/tour.md.</p>\n" + out;
}

}  // namespace ng::app
