// apps/report_page.cpp — report.html assembled: style, the intro line, the sections of
// apps/report_sections.h, the summary table, the list of runs and the page script.
//
// The plots are SVG written by natgrad itself and the script is a few lines of plain JavaScript inline,
// not a plotting library: the page must be one file that works offline (no fetches), a library would
// have to be embedded whole (hundreds of KB) into every run's report, and the only interaction needed is
// hiding/showing a config's lines. The script also records its own health for headless checks
// (scripts/check_report_browser.sh): body[data-js-error] holds the first JavaScript error, and
// body[data-report-ok="1"] is set once it ran to the end.
#include <algorithm>

#include "apps/report_sections.h"

namespace ng::app {

namespace {

const char* kStyle =
    "<style>body{font-family:sans-serif;margin:24px;color:#222}"
    ".plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}table{border-collapse:collapse;margin-top:16px}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
    "code{background:#f4f4f4;padding:1px 4px}.note{color:#555;font-size:13px;max-width:1150px}"
    ".legend{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:4px 0;z-index:1;font-size:13px}"
    ".lg{cursor:pointer;white-space:nowrap;margin-right:8px;user-select:none}.lg svg{vertical-align:middle;margin-right:3px}"
    ".lg.off{opacity:.3}.s.off{display:none}details{margin:8px 0}summary{cursor:pointer;font-weight:bold}</style>\n";

// Toggling: a click on any [data-toggle=K] hides (class "off") every [data-key=K] series and greys every
// legend entry of K. With #selftest in the URL the script toggles the first config off and on again and
// checks that its lines followed; with #only=ID it shows the title, intro, legend and section ID only.
const char* kScript = R"(<script>
window.onerror = function (msg) { if (!document.body.hasAttribute('data-js-error')) document.body.setAttribute('data-js-error', String(msg)); };
function ngToggle(key) {
  var off = true;
  document.querySelectorAll('[data-toggle]').forEach(function (l) { if (l.getAttribute('data-toggle') === key && l.classList.contains('off')) off = false; });
  document.querySelectorAll('[data-toggle]').forEach(function (l) { if (l.getAttribute('data-toggle') === key) l.classList.toggle('off', off); });
  document.querySelectorAll('.s').forEach(function (s) { if (s.getAttribute('data-key') === key) s.classList.toggle('off', off); });
}
document.addEventListener('click', function (e) {
  var t = e.target.closest ? e.target.closest('[data-toggle]') : null;
  if (t) ngToggle(t.getAttribute('data-toggle'));
});
if (location.hash === '#selftest') {
  var first = document.querySelector('[data-toggle]');
  if (first) {
    var key = first.getAttribute('data-toggle'), hidden = 0, shown = 0;
    first.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    document.querySelectorAll('.s').forEach(function (s) { if (s.getAttribute('data-key') === key && getComputedStyle(s).display === 'none') ++hidden; });
    first.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    document.querySelectorAll('.s').forEach(function (s) { if (s.getAttribute('data-key') === key && getComputedStyle(s).display !== 'none') ++shown; });
    if (hidden === 0 || hidden !== shown) throw new Error('legend toggle failed for ' + key + ': hid ' + hidden + ', showed ' + shown);
    document.body.setAttribute('data-selftest', 'toggled ' + hidden);
  }
}
if (location.hash.indexOf('#only=') === 0) {
  var only = location.hash.substring(6);
  document.querySelectorAll('body > section').forEach(function (s) { if (s.id !== only) s.style.display = 'none'; });
}
document.body.setAttribute('data-report-ok', '1');
</script>
)";

// "seed 3, completed".
std::string seed_and_status(const RunRecord& r) {
  const std::string status = r.summary.is_null() ? "unfinished" : r.summary.value("status", "?");
  return "seed " + (r.config.contains("seed") ? r.config["seed"].dump() : "?") + ", " + xml_escape(status);
}

std::string intro(const std::vector<ReportGroup>& groups) {
  if (groups.size() == 1 && groups[0].runs.size() == 1) {
    const RunRecord& r = *groups[0].runs[0];
    return "<p>One run of config <b>" + xml_escape(r.name) + "</b> (optimizer " + xml_escape(r.optimizer) + ", " +
           seed_and_status(r) + ").</p>\n";
  }
  size_t runs = 0, max_seeds = 0;
  for (const auto& g : groups) runs += g.runs.size(), max_seeds = std::max(max_seeds, g.runs.size());
  std::string out = "<p>" + std::to_string(runs) + " runs of " + std::to_string(groups.size()) + " config(s).";
  if (max_seeds > 1) out += " Lines: mean over a config's seeds; bands: lowest to highest seed.";
  return out + "</p>\n";
}

std::string runs_list(const std::vector<ReportGroup>& groups) {
  std::string out = "<h2>Runs</h2>\n<ul>\n";
  for (const auto& g : groups)
    for (const RunRecord* r : g.runs)
      out += "<li><code>" + xml_escape(r->dir) + "</code> — " + xml_escape(r->name) + ", " + seed_and_status(*r) + "</li>\n";
  return out + "</ul>\n";
}

}  // namespace

std::string html_page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + xml_escape(title) + "</title>\n" +
         kStyle + "</head><body>\n<h1>" + xml_escape(title) + "</h1>\n";
}

std::string report_page(const std::vector<ReportGroup>& groups, const std::string& title, const std::string& table) {
  std::string out = html_page_start(title) + intro(groups) + legend_html(groups);
  const std::pair<const char*, std::string> sections[] = {
      {"curves", "<h2>Accuracy and loss</h2>\n" + curves_section(groups)},
      {"families", families_section(groups)},
      {"cost", cost_section(groups)},
      {"schedules", schedules_section(groups)},
      {"curvature", curvature_section(groups)},
      {"summary", "<h2>Summary</h2>\n" + table + runs_list(groups)}};
  for (const auto& [id, html] : sections)
    if (!html.empty()) out += "<section id=\"" + std::string(id) + "\">\n" + html + "</section>\n";
  return out + kScript + "</body></html>\n";
}

}  // namespace ng::app
