#include "engine/llama/jinja_chat/jinja_chat.h"

#include <chrono>
#include <ctime>
#include <exception>
#include <sstream>
#include <string_view>

#include "jinja/caps.h"
#include "jinja/lexer.h"
#include "jinja/parser.h"
#include "jinja/runtime.h"
#include "jinja/value.h"
#include "json.h"

// Each step below names the llama.cpp function (common/chat.cpp) whose behaviour it repeats, so that a rendering
// which drifts from llama-server's after an upgrade of the pinned llama.cpp can be traced to its cause.
namespace batchwise {

struct JinjaChatTemplate::Parsed {
  std::string source;
  jinja::program program;
  jinja::caps caps;
  ChatSpecialTokens tokens;
};

namespace {

using Json = nlohmann::ordered_json;  // keys in the order llama.cpp inserts them: `tojson` prints them so

Error field_error(const std::string& field, const std::string& what) {
  return Error{ErrorCode::kInvalidArgument, "body field `" + field + "` " + what};
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// common_chat_templates_init patches two known templates whose checks raise on messages llama.cpp sends
// (GPT-OSS's analysis channel, Ministral's empty tool-call content): the same patches, so they render alike.
std::string patched_source(std::string src) {
  if (src.find("<|channel|>") != std::string::npos && src.find("in message.content or") != std::string::npos) {
    replace_all(src,
                "{%- if \"<|channel|>analysis<|message|>\" in message.content or "
                "\"<|channel|>final<|message|>\" in message.content %}",
                "{%- if false %}");
  }
  if (src.find("[TOOL_CALLS]") != std::string::npos && src.find("if (message['content'] is none or") != std::string::npos) {
    replace_all(src,
                "{%- if (message['content'] is none or message['content'] == '' or "
                "message['content']|length == 0) and (message['tool_calls'] is not defined or "
                "message['tool_calls'] is none or message['tool_calls']|length == 0) %}",
                "{%- if false %}");
  }
  return src;
}

const nlohmann::json* field(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// A string field that may be absent (""); present, it must be a string.
Expected<std::string> optional_string(const nlohmann::json& object, const char* name, const std::string& where) {
  const nlohmann::json* f = field(object, name);
  if (f == nullptr || f->is_null()) return std::string();
  if (!f->is_string()) return std::unexpected(field_error(where + "." + name, "must be a string"));
  return f->get<std::string>();
}

// One tool call as common_chat_msg::to_json_oaicompat writes it: arguments always as a string.
Expected<Json> tool_call_json(const nlohmann::json& call, const std::string& where) {
  const nlohmann::json* function = call.is_object() ? field(call, "function") : nullptr;
  const nlohmann::json* type = call.is_object() ? field(call, "type") : nullptr;
  if (type == nullptr || *type != "function" || function == nullptr || !function->is_object() ||
      field(*function, "name") == nullptr || !(*function)["name"].is_string()) {
    return std::unexpected(field_error(where, "must be {\"type\": \"function\", \"function\": {\"name\": ..., "
                                              "\"arguments\": ...}}"));
  }
  const nlohmann::json* args = field(*function, "arguments");
  Json out = {{"type", "function"},
              {"function",
               {{"name", (*function)["name"]},
                {"arguments", args == nullptr ? "null" : args->is_string() ? args->get<std::string>() : args->dump()}}}};
  BW_ASSIGN_OR_RETURN(std::string id, optional_string(call, "id", where));
  if (!id.empty()) out["id"] = id;
  return out;
}

// A message as llama-server hands it to a template: common_chat_msgs_parse_oaicompat, then
// common_chat_msg::to_json_oaicompat (role, content as a string or text parts, "" when there is none, then the
// optional fields in that order).
Expected<Json> message_json(const nlohmann::json& m, const std::string& where) {
  if (!m.is_object() || field(m, "role") == nullptr || !m["role"].is_string()) {
    return std::unexpected(field_error(where, "must be an object with a string `role`"));
  }
  Json out = {{"role", m["role"]}};
  const nlohmann::json* content = field(m, "content");
  if (content != nullptr && content->is_array() && !content->empty()) {
    Json parts = Json::array();
    for (const auto& part : *content) {
      const nlohmann::json* type = part.is_object() ? field(part, "type") : nullptr;
      const nlohmann::json* text = part.is_object() ? field(part, "text") : nullptr;
      if (type == nullptr || *type != "text" || text == nullptr || !text->is_string()) {
        return std::unexpected(field_error(where + ".content", "parts must be {\"type\": \"text\", \"text\": ...}"));
      }
      parts.push_back({{"type", "text"}, {"text", *text}});
    }
    out["content"] = std::move(parts);
  } else if (content != nullptr && content->is_string()) {
    out["content"] = *content;
  } else if (content != nullptr && !content->is_null() && !content->is_array()) {
    return std::unexpected(field_error(where + ".content", "must be a string or an array of text parts"));
  } else {
    out["content"] = "";
  }
  BW_ASSIGN_OR_RETURN(std::string reasoning, optional_string(m, "reasoning_content", where));
  if (!reasoning.empty()) out["reasoning_content"] = reasoning;
  BW_ASSIGN_OR_RETURN(std::string name, optional_string(m, "name", where));
  if (!name.empty()) out["name"] = name;
  BW_ASSIGN_OR_RETURN(std::string call_id, optional_string(m, "tool_call_id", where));
  if (!call_id.empty()) out["tool_call_id"] = call_id;
  const nlohmann::json* calls = field(m, "tool_calls");
  if (calls != nullptr && !calls->is_null()) {
    if (!calls->is_array()) return std::unexpected(field_error(where + ".tool_calls", "must be an array"));
    if (!calls->empty()) {
      Json list = Json::array();
      for (size_t i = 0; i < calls->size(); ++i) {
        BW_ASSIGN_OR_RETURN(Json call, tool_call_json((*calls)[i], where + ".tool_calls[" + std::to_string(i) + "]"));
        list.push_back(std::move(call));
      }
      out["tool_calls"] = std::move(list);
    }
  }
  return out;
}

// messages_inp_normalizer: a template that reads only string content gets text parts joined by newlines; one
// that reads only typed content gets a string as one text part.
void normalize_content(Json& message, const jinja::caps& caps) {
  const bool only_string = caps.supports_string_content && !caps.supports_typed_content;
  const bool only_typed = !caps.supports_string_content && caps.supports_typed_content;
  Json& content = message["content"];
  if (only_typed && content.is_string()) {
    content = Json::array({Json{{"type", "text"}, {"text", content}}});
  } else if (only_string && content.is_array()) {
    std::string text;
    for (const auto& part : content) text += (text.empty() ? "" : "\n") + part["text"].get<std::string>();
    content = text;
  }
}

// The workarounds common_chat_templates_apply_jinja applies to the normalised messages before rendering.
Status apply_workarounds(Json& messages, const std::string& source, const jinja::caps& caps) {
  if (source.find("<|channel|>") == std::string::npos) {  // GPT-OSS keeps its developer role
    for (auto& m : messages) {
      if (m["role"] == "developer") m["role"] = "system";
    }
  }
  // system_message_not_supported: the system prompt goes in front of the next message's content, or away.
  if (!caps.supports_system_role && !messages.empty() && messages.front()["role"] == "system") {
    if (messages.size() > 1) {
      if (!messages[0]["content"].is_string() || !messages[1]["content"].is_string()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "the model's chat template has no system role, and the system message (given as text "
                          "parts) cannot be merged into the next one: send both contents as strings");
      }
      messages[1]["content"] = messages[0]["content"].get<std::string>() + "\n" + messages[1]["content"].get<std::string>();
    }
    messages.erase(messages.begin());
  }
  if (caps.supports_object_arguments) {  // func_args_not_string: arguments as the object they encode
    for (auto& m : messages) {
      if (!m.contains("tool_calls")) continue;
      for (auto& call : m["tool_calls"]) {
        auto parsed = Json::parse(call["function"]["arguments"].get<std::string>(), nullptr, false);
        if (parsed.is_discarded()) {
          return make_error(ErrorCode::kInvalidArgument, "a tool call's `arguments` is not JSON, which the model's "
                                                         "chat template needs as an object");
        }
        call["function"]["arguments"] = std::move(parsed);
      }
    }
  }
  return {};
}

// common_chat_tools_parse_oaicompat then common_chat_tools_to_json_oaicompat: name, description ("" when
// absent) and parameters ({} when absent), in that order.
Expected<Json> tools_json(const nlohmann::json& tools) {
  if (!tools.is_array()) return std::unexpected(field_error("tools", "must be an array"));
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const nlohmann::json& tool = tools[i];
    const nlohmann::json* function = tool.is_object() ? field(tool, "function") : nullptr;
    if (!tool.is_object() || tool.value("type", nlohmann::json()) != "function" || function == nullptr ||
        !function->is_object() || !function->contains("name") || !(*function)["name"].is_string()) {
      return std::unexpected(field_error(where, "must be {\"type\": \"function\", \"function\": {\"name\": ...}}"));
    }
    BW_ASSIGN_OR_RETURN(std::string description, optional_string(*function, "description", where + ".function"));
    const nlohmann::json* parameters = field(*function, "parameters");
    out.push_back({{"type", "function"},
                   {"function",
                    {{"name", (*function)["name"]},
                     {"description", description},
                     {"parameters", parameters == nullptr ? Json::object() : Json(*parameters)}}}});
  }
  return out;
}

std::string local_date(const char* format) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char text[64];
  return std::string(text, std::strftime(text, sizeof text, format, &local));
}

// What common_chat_template_direct_apply puts in the template's context for a plain request from
// llama-server with its default flags: enable_thinking (its default where a template reads it), the date
// (common_chat_extra_context), preserve_reasoning (--reasoning-preserve is on by default), and a generation prompt.
Json template_context(Json messages, const Json& tools, const ChatSpecialTokens& tokens) {
  Json context = {{"messages", std::move(messages)},
                  {"bos_token", tokens.bos},
                  {"eos_token", tokens.eos},
                  {"enable_thinking", true}};
  if (!tools.empty()) context["tools"] = tools;
  context["datetime"] = local_date("%b %d %Y");
  context["date_string"] = local_date("%d %b %Y");
  context["preserve_reasoning"] = true;
  context["add_generation_prompt"] = true;
  return context;
}

// llama.cpp's Jinja errors span lines: the cause, where it arose, and the source around that spot with a caret
// under it. A per-request error (and the CLI's message) is one line: the caret goes, the rest stays.
std::string one_line(const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find_first_not_of(" -");
    if (first == std::string::npos || line.compare(first, std::string::npos, "^") == 0) continue;  // rule, caret
    line.erase(0, first);
    if (line.size() > 6 && line.starts_with("...") && line.ends_with("...")) {
      out += ", near `" + line + "`";
    } else if (line.starts_with("Error: ")) {
      out += ": " + line.substr(7);
    } else {
      if (line.ends_with(" in source:")) line.resize(line.size() - std::string_view(" in source:").size());
      out += (out.empty() ? "" : " ") + line;
    }
  }
  return out;
}

Error render_error(const std::exception& e) {
  const std::string what = e.what();
  constexpr std::string_view kRaised = "Jinja Exception: ";
  if (const size_t at = what.rfind(kRaised); at != std::string::npos) {
    const size_t end = what.find('\n', at);
    return Error{ErrorCode::kInvalidArgument,
                 "the model's chat template refused these messages: " +
                     what.substr(at + kRaised.size(), end == std::string::npos ? end : end - at - kRaised.size())};
  }
  return Error{ErrorCode::kInvalidArgument,
               "llama.cpp's Jinja engine could not render the chat template: " + one_line(what)};
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Expected<JinjaChatTemplate> JinjaChatTemplate::parse(const std::string& source, ChatSpecialTokens tokens) {
  try {
    auto parsed = std::make_shared<Parsed>();
    jinja::lexer lexer;
    const jinja::lexer_result lexed = lexer.tokenize(patched_source(source));
    parsed->program = jinja::parse_from_tokens(lexed);
    parsed->source = lexed.source;
    parsed->caps = jinja::caps_get(parsed->program);
    parsed->tokens = std::move(tokens);
    return JinjaChatTemplate(std::move(parsed));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "its Jinja does not parse: " + one_line(e.what()));
  }
}

Expected<std::string> JinjaChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools) const {
  const Parsed& t = *parsed_;
  try {
    if (!messages.is_array()) return std::unexpected(field_error("messages", "must be an array"));
    Json normalized = Json::array();
    for (size_t i = 0; i < messages.size(); ++i) {
      BW_ASSIGN_OR_RETURN(Json m, message_json(messages[i], "messages[" + std::to_string(i) + "]"));
      normalize_content(m, t.caps);
      normalized.push_back(std::move(m));
    }
    BW_TRY(apply_workarounds(normalized, t.source, t.caps));
    Json tool_list = Json::array();
    if (!tools.is_null()) {
      BW_ASSIGN_OR_RETURN(tool_list, tools_json(tools));
    }
    const Json context = template_context(std::move(normalized), tool_list, t.tokens);

    jinja::context ctx(t.source);
    jinja::caps_apply_preserve_reasoning(ctx, true);
    jinja::global_from_json(ctx, common_json::parse(context.dump(-1, ' ', false, Json::error_handler_t::replace)),
                            /*mark_input=*/true);
    jinja::runtime runtime(ctx);
    std::string prompt = jinja::runtime::gather_string_parts(runtime.execute(t.program))->as_string().str();
    // common_chat_template_direct_apply's "TODO: improve this later": the tokenizer adds these itself.
    if (t.tokens.tokenizer_adds_bos && starts_with(prompt, t.tokens.bos)) prompt.erase(0, t.tokens.bos.size());
    if (t.tokens.tokenizer_adds_eos && ends_with(prompt, t.tokens.eos)) prompt.resize(prompt.size() - t.tokens.eos.size());
    return prompt;
  } catch (const std::exception& e) {
    return std::unexpected(render_error(e));
  }
}

}  // namespace batchwise
