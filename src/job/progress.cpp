#include "job/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/clock.h"
#include "core/log.h"

namespace batchwise {
namespace {

constexpr double kWindowS = 60.0;

}  // namespace

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

void Progress::record(const Sample& s) {
  window_.push_back(s);
  // Keep one sample older than the window, so the rates always span about a minute once there is one.
  while (window_.size() > 2 && s.t - window_[1].t > kWindowS) window_.pop_front();
}

std::string Progress::line(const Sample& now, int64_t failed, bool final) const {
  const Sample& from = window_.empty() ? now : window_.front();
  const double span = std::max(1e-3, now.t - from.t);
  const double rate = static_cast<double>(now.done - from.done) / span;
  const double tok_rate = static_cast<double>(now.tokens - from.tokens) / span;
  const double prompt_rate = static_cast<double>(now.prompt_tokens - from.prompt_tokens) / span;
  const bool done = final || now.done >= total_;
  const double eta = rate > 0 ? static_cast<double>(total_ - now.done) / rate : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lld/%lld %5.1f%%  %.1f req/s  %.0f tok/s", (long long)now.done, (long long)total_,
                total_ ? 100.0 * static_cast<double>(now.done) / static_cast<double>(total_) : 100.0, rate, tok_rate);
  std::string text = buf;
  if (now.prompt_tokens > 0) {
    std::snprintf(buf, sizeof buf, "  %.0f prompt tok/s", prompt_rate);
    text += buf;
  }
  text += done ? "  ran " + format_duration(now.t - start_s_) : "  ETA " + format_duration(eta);
  if (failed > 0) text += "  " + std::to_string(failed) + " failed";
  return text;
}

void Progress::update(int64_t done, int64_t failed, int64_t tokens, int64_t prompt_tokens) {
  const Sample s{now_s(), done, tokens, prompt_tokens};
  if (window_.empty() || s.t - window_.back().t >= 1.0) record(s);
  const double interval = tty_ ? 0.25 : plain_interval_s_;
  if (s.t - last_draw_s_ < interval) return;
  last_draw_s_ = s.t;
  draw(line(s, failed, false), false);
}

void Progress::finish(int64_t done, int64_t failed, int64_t tokens, int64_t prompt_tokens) {
  const Sample s{now_s(), done, tokens, prompt_tokens};
  if (window_.empty()) record(s);
  draw(line(s, failed, true), true);
}

void Progress::clear() {
  if (!tty_ || log_level() < LogLevel::kInfo) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
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
