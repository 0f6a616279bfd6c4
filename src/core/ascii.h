// ASCII case folding for the names users type (presets, weight types, error texts we match on).
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace batchwise {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace batchwise
