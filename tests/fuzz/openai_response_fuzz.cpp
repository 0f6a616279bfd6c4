// libFuzzer target: what the HTTP engine reads from a server's answer (usage by a SAX pass, the
// shape of `choices`, the error class and message of an HTTP error).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/http/openai_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchwise;
  const std::string body(reinterpret_cast<const char*>(data), size);
  if (auto usage = read_usage(body)) {
    (void)answer_shape_error(ApiKind::kChatCompletions, *usage);
    (void)answer_shape_error(ApiKind::kCompletions, *usage);
  }
  for (int status : {400, 429, 503}) (void)error_for_http_status(status, body);
  return 0;
}
