// Monotonic time in the units the rest of the code names (ms, s).
#pragma once

#include <chrono>
#include <cstdint>

namespace batchwise {

inline double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}
inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
// Wall-clock seconds since the Unix epoch (OpenAI's `created_at` fields).
inline int64_t unix_time_s() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace batchwise
