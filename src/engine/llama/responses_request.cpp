#include "engine/llama/responses_request.h"

#include <optional>
#include <string>

#include "core/json_read.h"
#include "engine/llama/request_features.h"

namespace batchwise {
namespace {

// One content part as the chat path's text part; images, files and audio are refused.
Expected<nlohmann::json> text_part(const nlohmann::json& part, const std::string& where) {
  const nlohmann::json* type = json_field(part, "type");
  if (!type || !type->is_string()) {
    return std::unexpected(body_field_error(where, "must be an object with a string `type`"));
  }
  const std::string& t = type->get_ref<const std::string&>();
  // output_text and refusal are an assistant's earlier answer, sent back as history.
  const char* text_key = t == "input_text" || t == "output_text" ? "text" : t == "refusal" ? "refusal" : nullptr;
  if (!text_key) {
    return std::unexpected(
        body_field_error(where, "of type `" + t +
                                    "` is not supported by the embedded engine (it reads "
                                    "text: input_text parts; use --endpoint with a server that takes it)"));
  }
  const nlohmann::json* text = json_field(part, text_key);
  if (!text || !text->is_string()) return std::unexpected(body_field_error(where + "." + text_key, "must be a string"));
  return nlohmann::json{{"type", "text"}, {"text", *text}};
}

// One input item as a chat message: {"role", "content"} with an optional "type": "message".
Expected<nlohmann::json> message_from_item(const nlohmann::json& item, const std::string& where) {
  if (!item.is_object()) return std::unexpected(body_field_error(where, "must be a message object"));
  const nlohmann::json* type = json_field(item, "type");
  if (type && !(type->is_string() && *type == "message")) {
    const std::string name = type->is_string() ? type->get<std::string>() : type->dump();
    return std::unexpected(body_field_error(where, "of type `" + name +
                                                       "` is not supported by the embedded engine (no tools "
                                                       "or stored items): send the conversation as messages"));
  }
  const nlohmann::json* role = json_field(item, "role");
  if (!role || !role->is_string()) return std::unexpected(body_field_error(where, "must have a string `role`"));
  const nlohmann::json* content = json_field(item, "content");
  if (!content || !(content->is_string() || content->is_array())) {
    return std::unexpected(body_field_error(where + ".content", "must be a string or an array of input_text parts"));
  }
  nlohmann::json message = {{"role", *role}};
  if (content->is_string()) {
    message["content"] = *content;
    return message;
  }
  nlohmann::json parts = nlohmann::json::array();
  for (size_t j = 0; j < content->size(); ++j) {
    BW_ASSIGN_OR_RETURN(nlohmann::json part, text_part((*content)[j], where + ".content[" + std::to_string(j) + "]"));
    parts.push_back(std::move(part));
  }
  message["content"] = std::move(parts);
  return message;
}

Expected<nlohmann::json> messages_from(const nlohmann::json& body) {
  nlohmann::json messages = nlohmann::json::array();
  if (const nlohmann::json* instructions = json_field(body, "instructions"); instructions && !instructions->is_null()) {
    if (!instructions->is_string()) return std::unexpected(body_field_error("instructions", "must be a string"));
    if (!instructions->get_ref<const std::string&>().empty()) {
      messages.push_back({{"role", "system"}, {"content", *instructions}});
    }
  }
  const nlohmann::json* input = json_field(body, "input");
  if (input && input->is_string()) {
    messages.push_back({{"role", "user"}, {"content", *input}});
  } else if (input && input->is_array() && !input->empty()) {
    for (size_t i = 0; i < input->size(); ++i) {
      BW_ASSIGN_OR_RETURN(nlohmann::json m, message_from_item((*input)[i], "input[" + std::to_string(i) + "]"));
      messages.push_back(std::move(m));
    }
  } else {
    return std::unexpected(body_field_error("input", "must be a string or a non-empty array of messages"));
  }
  return messages;
}

// text.format as the chat path's response_format; nullopt for plain text.
Expected<std::optional<nlohmann::json>> response_format_from(const nlohmann::json& body) {
  const nlohmann::json* text = json_field(body, "text");
  if (!text || text->is_null()) return std::nullopt;
  if (!text->is_object()) return std::unexpected(body_field_error("text", "must be an object"));
  const nlohmann::json* format = json_field(*text, "format");
  if (!format || format->is_null()) return std::nullopt;
  const nlohmann::json* type = format->is_object() ? json_field(*format, "type") : nullptr;
  if (!type || !type->is_string()) {
    return std::unexpected(body_field_error("text.format", "must be an object with a string `type`"));
  }
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") return nlohmann::json{{"type", "json_object"}};
  if (*type != "json_schema") {
    return std::unexpected(body_field_error("text.format.type", "must be text, json_object or json_schema"));
  }
  // The Responses API puts name, schema and strict in the format itself; chat nests them under json_schema.
  const nlohmann::json* schema = json_field(*format, "schema");
  if (!schema || !schema->is_object()) {
    return std::unexpected(body_field_error("text.format.schema", "must be a JSON schema object"));
  }
  nlohmann::json json_schema = {{"schema", *schema}};
  for (const char* key : {"name", "strict", "description"}) {
    if (const nlohmann::json* v = json_field(*format, key)) json_schema[key] = *v;
  }
  return nlohmann::json{{"type", "json_schema"}, {"json_schema", std::move(json_schema)}};
}

Status refuse_unsupported(const nlohmann::json& body) {
  if (body_field_set(body, "tools")) {
    return std::unexpected(body_field_error(
        "tools", "is not supported by the embedded engine (use --endpoint with a server that has it)"));
  }
  if (const nlohmann::json* choice = json_field(body, "tool_choice");
      choice && !choice->is_null() && !(choice->is_string() && (*choice == "none" || *choice == "auto"))) {
    return std::unexpected(body_field_error("tool_choice", "is not supported by the embedded engine (no tools)"));
  }
  for (const char* field : {"previous_response_id", "conversation"}) {
    if (body_field_set(body, field)) {
      return std::unexpected(body_field_error(field,
                                              "is not supported by the embedded engine (it stores no responses): send "
                                              "the whole conversation in `input`"));
    }
  }
  if (body_field_set(body, "prompt")) {
    return std::unexpected(body_field_error("prompt",
                                            "(a stored prompt template) is not supported by the embedded engine: "
                                            "send the text in `instructions` and `input`"));
  }
  if (body_field_set(body, "include")) {
    return std::unexpected(body_field_error("include",
                                            "is not supported by the embedded engine for /v1/responses (for "
                                            "logprobs use /v1/chat/completions)"));
  }
  if (const nlohmann::json* top = json_field(body, "top_logprobs");
      top && !top->is_null() && !(top->is_number_integer() && top->get<int64_t>() == 0)) {
    return std::unexpected(body_field_error("top_logprobs",
                                            "is not supported by the embedded engine for /v1/responses "
                                            "(for logprobs use /v1/chat/completions)"));
  }
  return {};
}

}  // namespace

Expected<nlohmann::json> chat_body_from_responses(const nlohmann::json& body) {
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "`body` must be a JSON object");
  BW_TRY(refuse_unsupported(body));
  BW_ASSIGN_OR_RETURN(nlohmann::json messages, messages_from(body));
  nlohmann::json chat = {{"messages", std::move(messages)}};
  if (const nlohmann::json* max = json_field(body, "max_output_tokens"); max && !max->is_null()) {
    const std::optional<int64_t> n = json_as_int64(*max);
    if (!n || *n < 1) return std::unexpected(body_field_error("max_output_tokens", "must be a positive integer"));
    chat["max_tokens"] = *n;
  }
  for (const char* field : {"model", "temperature", "top_p", "top_k", "seed", "stop", "ignore_eos"}) {
    if (const nlohmann::json* v = json_field(body, field)) chat[field] = *v;
  }
  BW_ASSIGN_OR_RETURN(std::optional<nlohmann::json> format, response_format_from(body));
  if (format) chat["response_format"] = std::move(*format);
  return chat;
}

Error in_responses_terms(Error e) {
  // The chat path's words for the two fields named differently: only a schema llama.cpp cannot turn into a grammar
  // gets this far (every shape is checked above, in the Responses' own words).
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"`response_format.json_schema.schema`", "`text.format.schema`"},
      {"`response_format`", "`text.format`"},
  };
  for (const auto& [chat, responses] : kNames) {
    if (const size_t at = e.message.find(chat); at != std::string::npos) e.message.replace(at, chat.size(), responses);
  }
  return e;
}

}  // namespace batchwise
