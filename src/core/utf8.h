// UTF-8 at the edges of text produced a piece at a time (a token may end in the middle of a character).
#pragma once

#include <cstddef>
#include <string_view>

namespace batchwise {

// The longest prefix of text[0, end) that does not end inside a character: `end`, or the start of a last
// character whose bytes are not all there yet. Invalid bytes count as whole characters (they never complete).
inline size_t complete_utf8_prefix(std::string_view text, size_t end) {
  size_t lead = end;
  while (lead > 0 && (static_cast<unsigned char>(text[lead - 1]) & 0xC0) == 0x80 && end - lead < 3) lead--;
  if (lead == 0) return end;
  const unsigned char c = static_cast<unsigned char>(text[lead - 1]);
  const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  return end - (lead - 1) >= need ? end : lead - 1;
}

}  // namespace batchwise
