// apps/progress.h — what a training run prints while it works.
//
// On a terminal (or with log.progress = "bar"): one live line redrawn in place, at most ten times a second,
//   epoch 3/10 [#########.........]  212/390  loss 1.0432  acc 0.6312  2841 img/s  ETA 4m12s
// Otherwise ("lines", e.g. output to a file or CI log): one plain line per log interval. Epoch summaries
// and messages are always whole lines. "off" prints only messages.
#pragma once
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace ng::app {

class Progress {
 public:
  enum class Mode { bar, lines, off };
  // "auto" picks bar when `os` is std::cout/std::cerr attached to a terminal.
  Progress(std::ostream& os, const std::string& mode, int fd);

  struct Status {
    int64_t epoch = 0, epochs = 0;  // epoch is 0-based
    int64_t step = 0, steps = 0;    // batches done in this epoch, per epoch
    double loss = 0.0, accuracy = 0.0, images_per_s = 0.0;
    double eta_seconds = -1.0;
  };
  // Called after every step; `log_line` says this step ends a log interval.
  void update(const Status& s, bool log_line);
  // A whole line (clears the live bar first).
  void message(const std::string& line);

  Mode mode() const { return mode_; }

 private:
  std::string format(const Status& s, bool bar) const;
  void clear_bar();

  std::ostream& os_;
  Mode mode_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "4m12s", "1h03m", "12s".
std::string format_duration(double seconds);

}  // namespace ng::app
