// The three string helpers llama.cpp's json-schema-to-grammar takes from its common.cpp, which
// cannot be built here without the rest of llama-common (schema_grammar.h says why). Same
// declarations (common.h), our own definitions.
#include <string>
#include <vector>

std::string string_join(const std::vector<std::string>& values, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += separator;
    out += values[i];
  }
  return out;
}

// Every part between delimiters, empty ones included: "a,,b" -> {"a", "", "b"}; "" -> {""}.
std::vector<std::string> string_split(const std::string& str, const std::string& delimiter) {
  std::vector<std::string> parts;
  if (delimiter.empty()) return {str};
  size_t start = 0;
  for (size_t end = str.find(delimiter); end != std::string::npos; end = str.find(delimiter, start)) {
    parts.push_back(str.substr(start, end - start));
    start = end + delimiter.size();
  }
  parts.push_back(str.substr(start));
  return parts;
}

std::string string_repeat(const std::string& str, size_t n) {
  std::string out;
  out.reserve(str.size() * n);
  for (size_t i = 0; i < n; ++i) out += str;
  return out;
}
