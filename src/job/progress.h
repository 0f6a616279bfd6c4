// Progress: one line on stderr, rewritten in place on a terminal ("1,234/10,000 12.3%  45.6 req/s
// 7,890 tok/s  1,234 prompt tok/s  ETA 3m12s"), or a plain line every `plain_interval_s` when stderr is
// not a terminal. Rates and the ETA come from the last minute, not the whole run, so model loading
// and a slow start do not make the ETA creep.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace batchwise {

class Progress {
 public:
  explicit Progress(int64_t total, double plain_interval_s = 10.0);

  // Called often (every loop); draws at most a few times a second. `tokens`: completion tokens generated
  // so far; `prompt_tokens`: prompt tokens evaluated so far.
  void update(int64_t done, int64_t failed, int64_t tokens, int64_t prompt_tokens = 0);
  // Erases the line drawn in place (a terminal), so a log message can take its place; the next update
  // draws it again.
  void clear();
  // Draws the final line and ends it.
  void finish(int64_t done, int64_t failed, int64_t tokens, int64_t prompt_tokens = 0);

  // "3m12s", "1h04m", "45s".
  static std::string format_duration(double seconds);

  struct Sample {
    double t;
    int64_t done, tokens, prompt_tokens;
  };
  // The text of the line for the samples so far (exposed for tests).
  std::string line(const Sample& now, int64_t failed, bool final) const;

 private:
  void record(const Sample& s);
  void draw(const std::string& text, bool final);

  int64_t total_;
  bool tty_;
  double plain_interval_s_;
  double start_s_;
  double last_draw_s_ = 0;
  std::deque<Sample> window_;  // about the last minute of samples, oldest first
};

}  // namespace batchwise
