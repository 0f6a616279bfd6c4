#include "job/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/clock.h"
#include "core/log.h"

namespace batchwise {

Progress::Progress(int64_t total, double plain_interval_s)
    : total_(total), tty_(::isatty(STDERR_FILENO) == 1), plain_interval_s_(plain_interval_s), start_s_(now_s()) {}

std::string Progress::format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e8) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  return buf;
}

std::string Progress::line(int64_t done, int64_t failed, int64_t tokens, double now) const {
  const double elapsed = std::max(1e-3, now - start_s_);
  const double rate = static_cast<double>(done - start_done_) / elapsed;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lld/%lld %5.1f%%  %.1f req/s  %.0f tok/s  %s%s", (long long)done,
                (long long)total_, total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0,
                rate, static_cast<double>(tokens) / elapsed, done >= total_ ? "done in " : "ETA ",
                format_duration(done >= total_ ? elapsed : eta).c_str());
  std::string text = buf;
  if (failed > 0) text += "  " + std::to_string(failed) + " failed";
  return text;
}

void Progress::update(int64_t done, int64_t failed, int64_t tokens) {
  const double now = now_s();
  if (start_done_ < 0) start_done_ = done;
  const double interval = tty_ ? 0.25 : plain_interval_s_;
  if (now - last_draw_s_ < interval) return;
  last_draw_s_ = now;
  draw(line(done, failed, tokens, now), false);
}

void Progress::finish(int64_t done, int64_t failed, int64_t tokens) {
  if (start_done_ < 0) start_done_ = done;
  draw(line(done, failed, tokens, now_s()), true);
}

void Progress::draw(const std::string& text, bool final) {
  if (log_level() < LogLevel::kInfo) return;  // --quiet
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "batchwise: %s\n", text.c_str());
  }
  std::fflush(stderr);
}

}  // namespace batchwise
