#include "engine/http/request_body.h"

#include "core/json_read.h"

namespace batchwise {
namespace {

constexpr std::string_view kStreamFields = R"("stream":true,"stream_options":{"include_usage":true})";

template <typename Json>
std::string with_stream_fields(Json body) {
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string request_body(EngineRequest& request, bool stream) {
  if (request.body_text.empty()) {
    if (!stream || !request.body.is_object()) return json_dump(request.body);
    return with_stream_fields(request.body);
  }
  std::string& text = request.body_text;
  if (!stream) return std::move(text);
  if (json_top_level_value_span(text, "stream").second == 0 &&
      json_top_level_value_span(text, "stream_options").second == 0) {
    const size_t open = text.find('{');
    if (open != std::string::npos) {
      const size_t next = text.find_first_not_of(" \t\r\n", open + 1);
      const bool empty = next == std::string::npos || text[next] == '}';
      std::string out;
      out.reserve(text.size() + kStreamFields.size() + 1);
      out.append(text, 0, open + 1).append(kStreamFields).append(empty ? "" : ",").append(text, open + 1);
      return out;
    }
  }
  // The body says something about streaming itself: parsed with its key order kept, those two replaced.
  auto parsed = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return text;
  return with_stream_fields(std::move(parsed));
}

}  // namespace batchwise
