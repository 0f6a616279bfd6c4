// libFuzzer target: server-sent events assembled into a whole answer, fed in two pieces split where
// the first byte says (as curl hands them over). Any input must give a body or a server error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/http/sse_assembler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = std::min<size_t>(data[0], all.size());
  for (const bool chat : {true, false}) {
    batchwise::SseAssembler a(chat);
    (void)a.feed(all.substr(0, split), 1.0);
    (void)a.feed(all.substr(split), 2.0);
    auto body = a.finish();
    if (body) (void)body->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)a.mean_gap_ms();
  }
  return 0;
}
