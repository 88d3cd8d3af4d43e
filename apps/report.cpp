// apps/report.cpp — run loading, per-group statistics, comparison.md/.csv and report.html.
#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "apps/report_sections.h"
#include "apps/run_dir.h"
#include "core/error.h"

namespace ng::app {

namespace fs = std::filesystem;

RunRecord load_run(const std::string& dir) {
  const RunPaths p{dir};
  RunRecord r;
  r.dir = dir;
  std::ifstream in(p.config());
  NG_CHECK(in, dir, ": not a run directory (no config.json)");
  r.config = nlohmann::json::parse(in);
  r.name = r.config.value("name", fs::path(dir).filename().string());
  r.optimizer = r.config.contains("optimizer") ? r.config["optimizer"].value("type", "?") : "?";
  if (fs::exists(p.summary())) r.summary = nlohmann::json::parse(std::ifstream(p.summary()));
  if (fs::exists(p.metrics()))
    for (auto& line : read_jsonl(p.metrics())) {
      const std::string kind = text_at(line, "kind", "");
      if (kind == "epoch") r.epochs.push_back(std::move(line));
      else if (kind == "train") r.train.push_back(std::move(line));
      else if (kind == "event") r.events.push_back(std::move(line));
    }
  if (fs::exists(p.curvature())) r.curvature = read_jsonl(p.curvature());
  return r;
}

std::vector<RunRecord> find_runs(const std::vector<std::string>& paths) {
  std::vector<RunRecord> out;
  for (const auto& path : paths) {
    NG_CHECK(fs::is_directory(path), path, ": no such directory");
    std::vector<std::string> dirs;
    if (fs::exists(RunPaths{path}.config())) {
      dirs.push_back(path);
    } else {
      for (auto it = fs::recursive_directory_iterator(path); it != fs::recursive_directory_iterator(); ++it) {
        if (it.depth() >= 3) it.disable_recursion_pending();
        if (it->is_directory() && fs::exists(RunPaths{it->path().string()}.config())) {
          dirs.push_back(it->path().string());
          it.disable_recursion_pending();
        }
      }
      std::sort(dirs.begin(), dirs.end());
    }
    NG_CHECK(!dirs.empty(), path, ": holds no run directory (a folder with config.json)");
    for (const auto& d : dirs) out.push_back(load_run(d));
  }
  return out;
}

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0.0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

namespace {

// Groups in order of first appearance.
std::vector<std::vector<const RunRecord*>> grouped(const std::vector<RunRecord>& runs) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunRecord*>> by;
  for (const auto& r : runs) {
    if (!by.count(r.name)) order.push_back(r.name);
    by[r.name].push_back(&r);
  }
  std::vector<std::vector<const RunRecord*>> out;
  for (const auto& n : order) out.push_back(by[n]);
  return out;
}

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "84.12 ± 0.21", "84.12" for one value, "–" for none.
std::string pm(const Stat& s, double scale, int decimals) {
  if (s.n == 0) return "–";
  if (s.n == 1) return fmt(s.mean * scale, decimals);
  return fmt(s.mean * scale, decimals) + " ± " + fmt(s.std * scale, decimals);
}

}  // namespace

std::vector<GroupSummary> summarize(const std::vector<RunRecord>& runs) {
  std::vector<GroupSummary> out;
  for (const auto& g : grouped(runs)) {
    GroupSummary s;
    s.name = g.front()->name;
    s.optimizer = g.front()->optimizer;
    s.runs = static_cast<int>(g.size());
    std::vector<double> fin, best, ttt, ep, mem, peak;
    for (const RunRecord* r : g) {
      const auto& sm = r->summary;
      if (sm.is_null()) continue;
      if (sm.value("status", "") == "completed") ++s.completed;
      auto take = [&](const char* key, std::vector<double>& v) {
        if (sm.contains(key) && sm[key].is_number()) v.push_back(sm[key].get<double>());
      };
      take("final_test_accuracy", fin);
      take("best_test_accuracy", best);
      take("time_to_target_seconds", ttt);
      take("mean_epoch_seconds", ep);
      take("optimizer_state_bytes", mem);
      take("peak_memory_bytes", peak);
      if (sm.contains("target_accuracy") && sm["target_accuracy"].is_number()) s.target = sm["target_accuracy"];
    }
    s.final_accuracy = stat_of(fin);
    s.best_accuracy = stat_of(best);
    s.time_to_target = stat_of(ttt);
    s.epoch_seconds = stat_of(ep);
    s.optimizer_bytes = stat_of(mem);
    s.peak_bytes = stat_of(peak);
    out.push_back(s);
  }
  return out;
}

namespace {

// The comparison table as rows of cells, header first (shared by the Markdown and HTML forms).
std::vector<std::vector<std::string>> table_rows(const std::vector<GroupSummary>& groups) {
  double target = 0.0;
  for (const auto& g : groups) target = std::max(target, g.target);
  std::vector<std::vector<std::string>> rows = {
      {"config", "optimizer", "runs", "final test acc (%)", "best test acc (%)",
       target > 0 ? "time to " + fmt(100 * target, 1) + "% (s)" : "time to target (s)", "time / epoch (s)",
       "optimizer state (MiB)", "peak memory (MiB)"}};
  constexpr double MiB = 1.0 / (1024.0 * 1024.0);
  for (const auto& g : groups) {
    std::string runs = std::to_string(g.runs);
    if (g.completed != g.runs) runs += " (" + std::to_string(g.completed) + " completed)";
    std::string reach = pm(g.time_to_target, 1.0, 1);
    if (g.target > 0) reach += " (" + std::to_string(g.time_to_target.n) + "/" + std::to_string(g.runs) + " reached)";
    rows.push_back({g.name, g.optimizer, runs, pm(g.final_accuracy, 100.0, 2), pm(g.best_accuracy, 100.0, 2), reach,
                    pm(g.epoch_seconds, 1.0, 1), pm(g.optimizer_bytes, MiB, 2), pm(g.peak_bytes, MiB, 0)});
  }
  return rows;
}

}  // namespace

std::string comparison_markdown(const std::vector<GroupSummary>& groups) {
  std::string out;
  const auto rows = table_rows(groups);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (const auto& cell : rows[r]) out += "| " + cell + " ";
    out += "|\n";
    if (r == 0) {
      for (size_t c = 0; c < rows[0].size(); ++c) out += "|---";
      out += "|\n";
    }
  }
  return out;
}

std::string comparison_csv(const std::vector<GroupSummary>& groups) {
  std::string out =
      "config,optimizer,runs,completed,final_acc_mean,final_acc_std,best_acc_mean,best_acc_std,target_accuracy,"
      "target_reached,time_to_target_mean_s,time_to_target_std_s,epoch_seconds_mean,epoch_seconds_std,"
      "optimizer_state_bytes_mean,peak_memory_bytes_mean\n";
  auto num = [](const Stat& s, bool std) { return s.n == 0 ? std::string() : fmt(std ? s.std : s.mean, 6); };
  for (const auto& g : groups) {
    out += g.name + "," + g.optimizer + "," + std::to_string(g.runs) + "," + std::to_string(g.completed) + "," +
           num(g.final_accuracy, false) + "," + num(g.final_accuracy, true) + "," + num(g.best_accuracy, false) + "," +
           num(g.best_accuracy, true) + "," + (g.target > 0 ? fmt(g.target, 4) : "") + "," +
           std::to_string(g.time_to_target.n) + "," + num(g.time_to_target, false) + "," +
           num(g.time_to_target, true) + "," + num(g.epoch_seconds, false) + "," + num(g.epoch_seconds, true) + "," +
           (g.optimizer_bytes.n ? fmt(g.optimizer_bytes.mean, 0) : "") + "," +
           (g.peak_bytes.n ? fmt(g.peak_bytes.mean, 0) : "") + "\n";
  }
  return out;
}

namespace {

std::string table_html(const std::vector<GroupSummary>& groups) {
  std::string out = "<table>\n";
  const auto rows = table_rows(groups);
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string cell = r == 0 ? "th" : "td";
    out += "<tr>";
    for (const auto& c : rows[r]) out += "<" + cell + ">" + xml_escape(c) + "</" + cell + ">";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::vector<ReportGroup> report_groups(const std::vector<RunRecord>& runs) {
  std::vector<ReportGroup> out;
  std::vector<ConfigId> ids;
  for (const auto& g : grouped(runs)) {
    out.push_back({g.front()->name, g.front()->optimizer, {}, g});
    ids.push_back({g.front()->name, g.front()->optimizer});
  }
  const auto styles = config_styles(ids);
  for (size_t i = 0; i < out.size(); ++i) out[i].style = styles[i];
  return out;
}

double number_at(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nan("");
  return j[key].get<double>();
}

std::string text_at(const nlohmann::json& j, const char* key, const std::string& fallback) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return fallback;
  return j[key].get<std::string>();
}

std::string report_html(const std::vector<RunRecord>& runs, const std::string& title) {
  return report_page(report_groups(runs), title, table_html(summarize(runs)));
}

void write_report(const std::vector<RunRecord>& runs, const std::string& html_path, const std::string& title) {
  std::ofstream(html_path) << report_html(runs, title);
}

void write_comparison(const std::vector<RunRecord>& runs, const std::string& out_dir, const std::string& title) {
  fs::create_directories(out_dir);
  const auto groups = summarize(runs);
  std::ofstream(out_dir + "/comparison.md") << comparison_markdown(groups);
  std::ofstream(out_dir + "/comparison.csv") << comparison_csv(groups);
  write_report(runs, out_dir + "/report.html", title);
}

}  // namespace ng::app
