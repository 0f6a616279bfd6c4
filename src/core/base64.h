// Standard base64 (RFC 4648, with padding) of a byte string: OpenAI's `encoding_format: "base64"` embeddings.
#pragma once

#include <string>
#include <string_view>

namespace batchwise {

std::string base64_encode(std::string_view bytes);

}  // namespace batchwise
