// How a run turns a chat request's messages into the prompt's text, as llama-server does: the GGUF's own template
// (tokenizer.chat_template) rendered as Jinja by llama.cpp's own engine (jinja_chat/jinja_chat.h). --chat-template
// replaces it: one of llama.cpp's built-in templates by name (chatml, llama3, mistral-v7, gemma, deepseek3, ...),
// rendered by llama_chat_apply_template, or a file holding any Jinja template.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/llama/jinja_chat/jinja_chat.h"

struct llama_model;

namespace batchwise {

// llama.cpp's built-in template names (llama_chat_builtin_templates).
std::vector<std::string> builtin_chat_templates();

// The template --chat-template names: a built-in name as it is, else the file's text. A usage error
// (kInvalidArgument) names the built-ins when it is neither, or names the file and the parser's words when its
// Jinja does not parse.
Expected<std::string> resolve_chat_template(const std::string& flag);

// The chat template of one model. Immutable once made: render() may run on several threads at once.
class ChatTemplate {
 public:
  // `flag_template`: resolve_chat_template's result; "" for the GGUF's own (its default template, else its
  // `tool_use` one, as common_chat_templates_init picks). A template that cannot render anything (none in the
  // GGUF, or Jinja that does not parse) is no error here: each chat request fails saying why and what to do, and
  // /v1/completions requests still run.
  ChatTemplate(const llama_model* model, const std::string& flag_template, const std::string& model_file);

  // The prompt text for a /v1/chat/completions body (its `messages`, and its `tools` where the template takes them).
  Expected<std::string> render(const nlohmann::json& body) const;

 private:
  Expected<std::string> render_builtin(const nlohmann::json& body) const;

  std::optional<JinjaChatTemplate> jinja_;
  // A built-in's name, or a template text that llama.cpp's built-ins recognise by its markers: the way when this
  // build has no Jinja engine, or llama.cpp's engine cannot parse the GGUF's template.
  std::string builtin_;
  std::optional<Error> unusable_;  // why chat requests fail when neither
};

}  // namespace batchwise
