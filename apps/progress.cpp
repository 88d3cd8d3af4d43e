// apps/progress.cpp — live progress bar and plain progress lines.
#include "apps/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace ng::app {

std::string format_duration(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const auto t = static_cast<int64_t>(std::llround(s));
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t % 3600 / 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  else std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(t));
  return buf;
}

Progress::Progress(std::ostream& os, const std::string& mode, int fd) : os_(os) {
  if (mode == "bar") mode_ = Mode::bar;
  else if (mode == "lines") mode_ = Mode::lines;
  else if (mode == "off") mode_ = Mode::off;
  else mode_ = isatty(fd) ? Mode::bar : Mode::lines;
}

std::string Progress::format(const Status& s, bool bar) const {
  char head[64], tail[160];
  std::snprintf(head, sizeof head, "epoch %lld/%lld ", static_cast<long long>(s.epoch + 1),
                static_cast<long long>(s.epochs));
  std::snprintf(tail, sizeof tail, "%5lld/%lld  loss %.4f  acc %.4f  %.0f img/s  ETA %s",
                static_cast<long long>(s.step), static_cast<long long>(s.steps), s.loss, s.accuracy,
                s.images_per_s, format_duration(s.eta_seconds).c_str());
  std::string out = head;
  if (bar) {
    constexpr int kWidth = 24;
    const int filled = s.steps > 0 ? static_cast<int>(kWidth * s.step / s.steps) : 0;
    out.append(1, '[').append(static_cast<size_t>(filled), '#').append(static_cast<size_t>(kWidth - filled), '.');
    out += "] ";
  } else {
    out += "step ";
  }
  return out + tail;
}

void Progress::clear_bar() {
  if (!bar_shown_) return;
  os_ << "\r\033[K";
  bar_shown_ = false;
}

void Progress::update(const Status& s, bool log_line) {
  if (mode_ == Mode::lines) {
    if (log_line) os_ << format(s, false) << std::endl;
    return;
  }
  if (mode_ != Mode::bar) return;
  const auto now = std::chrono::steady_clock::now();
  if (s.step != s.steps && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  os_ << "\r\033[K" << format(s, true) << std::flush;
  bar_shown_ = true;
}

void Progress::message(const std::string& line) {
  clear_bar();
  os_ << line << std::endl;
}

}  // namespace ng::app
