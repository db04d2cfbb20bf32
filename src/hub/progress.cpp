#include "hub/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace rwkv::hub {
namespace {

using Clock = std::chrono::steady_clock;

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

std::string format_bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) return fmt::format("{} B", n);
  double v = static_cast<double>(n) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string format_duration(double sec) {
  const auto s = static_cast<long long>(std::max(0.0, sec) + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string render_bar(const std::string& label, uint64_t done, int64_t total, double rate, int width) {
  const bool known = total > 0;
  const std::string rate_s = rate > 0 ? format_bytes(static_cast<uint64_t>(rate)) + "/s" : "-";
  std::string tail;
  if (known) {
    const double left = rate > 0 ? static_cast<double>(static_cast<uint64_t>(total) - std::min<uint64_t>(done, total)) / rate : -1;
    tail = fmt::format(" {}/{} {} ETA {}", format_bytes(done), format_bytes(static_cast<uint64_t>(total)), rate_s,
                       left >= 0 ? format_duration(left) : "-");
  } else {
    tail = fmt::format(" {} {}", format_bytes(done), rate_s);
  }
  const int pct = known ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 0;
  const std::string pct_s = known ? fmt::format(" {:3}%", std::min(pct, 100)) : "";
  // The bar takes what is left after the numbers and a label of at most 30 columns.
  std::string name = label;
  const int fixed = static_cast<int>(pct_s.size() + tail.size()) + 3;
  const int name_room = std::max(8, std::min<int>(30, width - fixed - 10));
  if (static_cast<int>(name.size()) > name_room) name = name.substr(0, name_room - 1) + "~";
  const int bar_w = width - fixed - static_cast<int>(name.size()) - 1;
  std::string bar;
  if (known && bar_w >= 5) {
    const int fill = static_cast<int>(static_cast<double>(bar_w) * std::min(1.0, static_cast<double>(done) / static_cast<double>(total)));
    bar = " [" + std::string(fill, '#') + std::string(bar_w - fill, ' ') + "]";
  }
  std::string line = name + pct_s + bar + tail;
  if (static_cast<int>(line.size()) > width) line.resize(width);
  return line;
}

std::string render_line(const std::string& label, uint64_t done, int64_t total, double rate) {
  const std::string rate_s = rate > 0 ? format_bytes(static_cast<uint64_t>(rate)) + "/s" : "rate unknown";
  if (total <= 0) return fmt::format("{}: {}, {}", label, format_bytes(done), rate_s);
  const uint64_t left_bytes = static_cast<uint64_t>(total) - std::min<uint64_t>(done, total);
  const std::string eta = rate > 0 ? format_duration(static_cast<double>(left_bytes) / rate) + " left" : "time left unknown";
  const int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
  return fmt::format("{}: {}% of {}, {}, {}", label, pct, format_bytes(static_cast<uint64_t>(total)), rate_s, eta);
}

Progress::Progress(ProgressStyle style, std::string label, int64_t total, uint64_t already)
    : style_(style), label_(std::move(label)), total_(total), start_bytes_(already), done_(already),
      start_(Clock::now()), last_draw_(start_) {
  if (style_ == ProgressStyle::Auto) style_ = ::isatty(STDERR_FILENO) ? ProgressStyle::Bar : ProgressStyle::Lines;
  if (style_ == ProgressStyle::Lines) {
    const std::string size = total_ > 0 ? format_bytes(static_cast<uint64_t>(total_)) : "size unknown";
    if (already > 0)
      std::fprintf(stderr, "resuming %s at %s of %s\n", label_.c_str(), format_bytes(already).c_str(), size.c_str());
    else
      std::fprintf(stderr, "downloading %s (%s)\n", label_.c_str(), size.c_str());
  }
}

void Progress::restart(uint64_t done) {
  start_bytes_ = done_ = done;
  start_ = Clock::now();
}

void Progress::update(uint64_t done) {
  done_ = done;
  if (style_ == ProgressStyle::None) return;
  const auto now = Clock::now();
  if (style_ == ProgressStyle::Bar) {
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else {
    // A line per 10% step, but not more often than every 5 s (a small file gets only its start
    // and end lines), and at least every 30 s (a slow one still shows signs of life).
    const int decile = total_ > 0 ? static_cast<int>(10.0 * static_cast<double>(done) / static_cast<double>(total_)) : -1;
    const bool step = decile > last_decile_ && decile > 0 && decile < 10 && now - last_draw_ >= std::chrono::seconds(5);
    if (!step && now - last_draw_ < std::chrono::seconds(30)) return;
    last_decile_ = std::max(last_decile_, decile);
  }
  last_draw_ = now;
  draw(false);
}

void Progress::draw(bool final) {
  const double elapsed = seconds_since(start_);
  const double rate = elapsed > 0.2 ? static_cast<double>(done_ - start_bytes_) / elapsed : 0;
  if (style_ == ProgressStyle::Bar) {
    std::fprintf(stderr, "\r%s\x1b[K%s", render_bar(label_, done_, total_, rate, terminal_width() - 1).c_str(),
                 final ? "\n" : "");
    bar_drawn_ = !final;
  } else if (style_ == ProgressStyle::Lines) {
    if (final)
      std::fprintf(stderr, "%s: done, %s in %s\n", label_.c_str(), format_bytes(done_).c_str(),
                   format_duration(elapsed).c_str());
    else
      std::fprintf(stderr, "%s\n", render_line(label_, done_, total_, rate).c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (style_ != ProgressStyle::None) draw(true);
}

void Progress::note(const std::string& msg) {
  if (style_ == ProgressStyle::None) return;
  if (bar_drawn_) std::fprintf(stderr, "\r\x1b[K");
  std::fprintf(stderr, "%s\n", msg.c_str());
  bar_drawn_ = false;
  std::fflush(stderr);
}

}  // namespace rwkv::hub
