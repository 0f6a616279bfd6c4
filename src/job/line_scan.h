// LineScan: one pass over one OpenAI Batch input line that checks it and keeps what dispatch needs, so
// the line is never parsed again: the custom_id, the endpoint kind, the priority, the prompt-prefix key
// and where the `body` value's bytes lie in the line (they are sent as they are). A SAX pass (no DOM:
// nothing is built but the few strings kept), so a line costs about one read of its bytes; nesting past
// kMaxJsonDepth is refused without recursion. Used by `run`'s input scan and reusable by any front door
// that takes batch lines (serve's upload). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace batchwise {

struct ScannedLine {
  std::string custom_id;   // also set (when readable) for a line that is refused, for its error line
  ApiKind kind = ApiKind::kChatCompletions;
  int32_t priority = 0;    // extension field `priority`: higher runs first
  uint64_t prefix_key = 0; // hash of the prompt's first characters: equal keys share a prefix
  uint32_t body_offset = 0;  // the `body` object's bytes: text.substr(body_offset, body_length)
  uint32_t body_length = 0;
};

// Checks one line (without its newline). Returns "" when it is a valid request, else the reason
// for its error line ("field `custom_id` missing or not a non-empty string").
std::string scan_line(std::string_view text, ScannedLine& out);

}  // namespace batchwise
