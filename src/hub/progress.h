// Download progress on stderr: a bar redrawn in place on a terminal (bytes, rate, ETA), or a
// plain line every 10% (at most every 5 s) or 30 s when stderr is a pipe or a log file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "hub/hub.h"

namespace rwkv::hub {

std::string format_bytes(uint64_t n);     // "1.5 GiB", "312.0 KiB", "17 B"
std::string format_duration(double sec);  // "0:07", "12:34", "1:02:03"

// One bar line, at most `width` columns: "name  45% [#####     ] 1.2/2.7 GiB 31.0 MiB/s ETA 0:49".
// `total` < 0 when the size is unknown; `rate` in bytes/s.
std::string render_bar(const std::string& label, uint64_t done, int64_t total, double rate, int width);
// One plain progress line: "name: 45% of 2.7 GiB, 31.0 MiB/s, 0:49 left".
std::string render_line(const std::string& label, uint64_t done, int64_t total, double rate);

class Progress {
 public:
  // `already` bytes were on disk before this transfer (a resumed download): they count as done
  // but not towards the rate.
  Progress(ProgressStyle style, std::string label, int64_t total, uint64_t already);
  void update(uint64_t done);  // cheap; redraws at most every 100 ms (bar), or per 10% / 30 s (lines)
  void finish();               // the final state and a newline
  // A message between redraws (a retry, a warning), never garbled by the bar.
  void note(const std::string& msg);
  // Starts a new attempt after a resume: the rate restarts from `done`.
  void restart(uint64_t done);

 private:
  void draw(bool final);
  ProgressStyle style_;
  std::string label_;
  int64_t total_;
  uint64_t start_bytes_, done_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int last_decile_ = -1;
  bool bar_drawn_ = false;
};

}  // namespace rwkv::hub
