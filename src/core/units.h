// Byte sizes for people: one formatting of GiB for every report that prints memory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace batchwise {

inline constexpr double kBytesPerGiB = 1073741824.0;

// "4.58 GiB"
inline std::string format_gib(int64_t bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f GiB", static_cast<double>(bytes) / kBytesPerGiB);
  return s;
}

}  // namespace batchwise
