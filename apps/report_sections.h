// apps/report_sections.h — the sections report.html is assembled from (apps/report_page.cpp puts them
// together): curves (apps/report_curves.cpp), comparison views (apps/report_compare.cpp) and the
// curvature diagnostics (apps/report_curvature.cpp). Each returns an HTML fragment.
#pragma once
#include <string>
#include <vector>

#include "apps/report.h"
#include "apps/report_style.h"
#include "apps/svg_plot.h"

namespace ng::app {

// The runs of one config, with the style its lines are drawn in.
struct ReportGroup {
  std::string name, optimizer;
  LineStyle style;
  std::vector<const RunRecord*> runs;
};

// report.html from its groups, the summary table (HTML) and the title.
std::string report_page(const std::vector<ReportGroup>& groups, const std::string& title, const std::string& table);

// Groups by config name in order of first appearance, styled by apps/report_style.h.
std::vector<ReportGroup> report_groups(const std::vector<RunRecord>& runs);

Stat stat_of(const std::vector<double>& v);

// A JSON number as a double (NaN when absent or not a number); a JSON string (`fallback` when absent or
// not a string). Records are read leniently: a malformed field leaves a gap, never an exception.
double number_at(const nlohmann::json& j, const char* key);
std::string text_at(const nlohmann::json& j, const char* key, const std::string& fallback);

// Skipped steps (small triangles in the group's colour) and divergence (a dashed red line), x = step.
std::vector<PlotMarker> step_markers(const std::vector<ReportGroup>& groups);

// The group's `y_key` per epoch index against `x_key` ("epoch", or "time" in minutes): the mean over its
// runs, with a band from the lowest to the highest run when it has several.
PlotSeries epoch_curve(const ReportGroup& g, const std::string& y_key, const std::string& x_key);
// Per group: the logged train loss per step (faint, not in legends), then per group its smoothed curve.
std::vector<PlotSeries> step_loss(const std::vector<ReportGroup>& groups);

// Test accuracy and train loss per epoch and against wall time; train loss per logged step.
std::string curves_section(const std::vector<ReportGroup>& groups);
// One plot per scheduled hyper-parameter (lr, constant or not, and whatever else a schedule drives)
// against step.
std::string schedules_section(const std::vector<ReportGroup>& groups);

// The page legend: one entry per config (click: hide/show its lines in every plot).
std::string legend_html(const std::vector<ReportGroup>& groups);
// Test accuracy per epoch, one small plot per optimizer family.
std::string families_section(const std::vector<ReportGroup>& groups);
// Final test accuracy against training time and against optimizer-state memory (mean ± std over seeds).
std::string cost_section(const std::vector<ReportGroup>& groups);

// Per-layer diagnostics of curvature.jsonl: for each, a layer × step heatmap and per-layer lines on a
// log axis; for one run per config (its first seed). Empty when no run has curvature records.
std::string curvature_section(const std::vector<ReportGroup>& groups);

}  // namespace ng::app
