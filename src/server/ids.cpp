#include "server/ids.h"

#include <cstdint>
#include <random>

namespace batchwise {
namespace {

constexpr size_t kRandomHexDigits = 24;

std::string random_hex() {
  static thread_local std::random_device device;  // the kernel's getrandom(): ids are not guessable
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kRandomHexDigits);
  while (out.size() < kRandomHexDigits) {
    uint32_t bits = device();
    for (int i = 0; i < 8 && out.size() < kRandomHexDigits; ++i, bits >>= 4) out.push_back(kHex[bits & 15]);
  }
  return out;
}

bool has_form(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + kRandomHexDigits || !id.starts_with(prefix)) return false;
  for (char c : id.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string new_file_id() { return "file-" + random_hex(); }
std::string new_batch_id() { return "batch_" + random_hex(); }
bool is_file_id(std::string_view id) { return has_form(id, "file-"); }
bool is_batch_id(std::string_view id) { return has_form(id, "batch_"); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace batchwise
