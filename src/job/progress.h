// Progress: one line on stderr, rewritten in place on a terminal ("1,234/10,000 12.3%  45.6 req/s
// 7,890 tok/s  ETA 3m12s"), or a plain line every `plain_interval_s` when stderr is not a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace batchwise {

class Progress {
 public:
  explicit Progress(int64_t total, double plain_interval_s = 10.0);

  // Called often (every loop); draws at most a few times a second.
  void update(int64_t done, int64_t failed, int64_t tokens);
  // Draws the final line and ends it.
  void finish(int64_t done, int64_t failed, int64_t tokens);

  // "3m12s", "1h04m", "45s".
  static std::string format_duration(double seconds);

 private:
  std::string line(int64_t done, int64_t failed, int64_t tokens, double now) const;
  void draw(const std::string& text, bool final);

  int64_t total_;
  bool tty_;
  double plain_interval_s_;
  double start_s_;
  double last_draw_s_ = 0;
  int64_t start_done_ = -1;
};

}  // namespace batchwise
