#include "engine/llama/generation_params.h"

#include "core/json_read.h"
#include "engine/llama/request_features.h"

namespace batchwise {
namespace {

Expected<double> number_in(const nlohmann::json& body, const char* field, double lo, double hi, double fallback) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  if (!body[field].is_number()) return std::unexpected(body_field_error(field, "must be a number"));
  const double v = body[field].get<double>();
  if (v < lo || v > hi) {
    return std::unexpected(body_field_error(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi)));
  }
  return v;
}

}  // namespace

Expected<GenerationParams> parse_generation_params(ApiKind kind, const nlohmann::json& body) {
  GenerationParams p;
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "`body` must be a JSON object");
  p.max_tokens = kind == ApiKind::kChatCompletions ? kDefaultChatMaxTokens : 16;
  for (const char* field : {"max_completion_tokens", "max_tokens"}) {
    if (!body.contains(field) || body[field].is_null()) continue;
    // A uint64 above INT64_MAX would wrap to a negative count: refused like any non-positive one.
    const std::optional<int64_t> n = json_as_int64(body[field]);
    if (!n || *n < 1) return std::unexpected(body_field_error(field, "must be a positive integer"));
    p.max_tokens = *n;
    break;
  }
  BW_ASSIGN_OR_RETURN(p.temperature, number_in(body, "temperature", 0.0, 2.0, 1.0));
  BW_ASSIGN_OR_RETURN(p.top_p, number_in(body, "top_p", 0.0, 1.0, 1.0));
  BW_ASSIGN_OR_RETURN(double top_k, number_in(body, "top_k", -1.0, 1e9, 0.0));
  p.top_k = static_cast<int32_t>(top_k);
  if (body.contains("seed") && !body["seed"].is_null()) {
    if (!body["seed"].is_number_integer()) return std::unexpected(body_field_error("seed", "must be an integer"));
    p.seed = static_cast<uint64_t>(body["seed"].get<int64_t>());
  }
  if (body.contains("stop") && !body["stop"].is_null()) {
    const auto& stop = body["stop"];
    if (stop.is_string()) {
      p.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array() && stop.size() <= 4) {
      for (const auto& s : stop) {
        if (!s.is_string()) return std::unexpected(body_field_error("stop", "must hold strings"));
        p.stop.push_back(s.get<std::string>());
      }
    } else {
      return std::unexpected(body_field_error("stop", "must be a string or an array of up to 4 strings"));
    }
    std::erase_if(p.stop, [](const std::string& s) { return s.empty(); });
  }
  BW_TRY(refuse_unsupported_fields(kind, body));
  BW_ASSIGN_OR_RETURN(p.grammar, response_format_grammar(body));
  if (kind == ApiKind::kChatCompletions && body.contains("logprobs") && !body["logprobs"].is_null()) {
    if (!body["logprobs"].is_boolean()) return std::unexpected(body_field_error("logprobs", "must be true or false"));
    if (body["logprobs"].get<bool>()) {
      BW_ASSIGN_OR_RETURN(double top, number_in(body, "top_logprobs", 0.0, 20.0, 0.0));
      p.top_logprobs = static_cast<int32_t>(top);
    }
  } else if (kind == ApiKind::kCompletions && body.contains("logprobs") && !body["logprobs"].is_null()) {
    BW_ASSIGN_OR_RETURN(double top, number_in(body, "logprobs", 0.0, 5.0, 0.0));
    p.top_logprobs = static_cast<int32_t>(top);
  }
  if (body.contains("ignore_eos")) {
    if (!body["ignore_eos"].is_boolean()) return std::unexpected(body_field_error("ignore_eos", "must be true or false"));
    p.ignore_eos = body["ignore_eos"].get<bool>();
  }
  return p;
}

Expected<std::vector<ChatMessage>> parse_chat_messages(const nlohmann::json& body) {
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    return std::unexpected(body_field_error("messages", "must be a non-empty array"));
  }
  std::vector<ChatMessage> out;
  size_t i = 0;
  for (const auto& m : body["messages"]) {
    const std::string where = "messages[" + std::to_string(i++) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return std::unexpected(body_field_error(where, "must be an object with a string `role`"));
    }
    ChatMessage msg{m["role"].get<std::string>(), ""};
    static const nlohmann::json kNull;
    const nlohmann::json* found = json_field(m, "content");
    const nlohmann::json& content = found ? *found : kNull;  // a reference: deep content is never copied
    if (content.is_string()) {
      msg.content = content.get<std::string>();
    } else if (content.is_array()) {
      for (const auto& part : content) {
        // Types checked before values are read: `"type": 1` must be a per-line error, not a type_error
        // thrown on a preparer thread (std::terminate for the whole job).
        const nlohmann::json* type = json_field(part, "type");
        const nlohmann::json* text = json_field(part, "text");
        if (!type || !type->is_string() || *type != "text" || !text || !text->is_string()) {
          return std::unexpected(body_field_error(where + ".content", "parts must be {\"type\": \"text\", \"text\": ...}"));
        }
        msg.content += text->get_ref<const std::string&>();
      }
    } else if (!content.is_null()) {
      return std::unexpected(body_field_error(where + ".content", "must be a string or an array of text parts"));
    }
    out.push_back(std::move(msg));
  }
  return out;
}

Expected<std::string> parse_completion_prompt(const nlohmann::json& body) {
  if (!body.contains("prompt")) return std::unexpected(body_field_error("prompt", "is missing"));
  const auto& prompt = body["prompt"];
  if (prompt.is_string()) return prompt.get<std::string>();
  if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) return prompt[0].get<std::string>();
  return std::unexpected(body_field_error("prompt", "must be a string (one prompt per batch line)"));
}

}  // namespace batchwise
