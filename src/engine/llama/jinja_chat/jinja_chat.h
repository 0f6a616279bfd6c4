// A chat template's Jinja rendered by llama.cpp's own Jinja engine (common/jinja), the way llama-server renders a
// plain chat request (its default --jinja: common_chat_templates_apply, common_chat_template_direct_apply), so a
// model whose template llama.cpp's built-in list does not know gets the prompt llama-server would give it.
// This folder is built as its own library (batchwise_jinja_chat) with the llama.cpp common/ files the engine
// needs: llama.cpp's llama-common cannot be linked whole (its bundled cpp-httplib clashes with Debian's). Built
// against an installed llama package, which ships no common/ sources, a stand-in (jinja_chat_absent.cpp) fails
// every parse with kUnsupported, saying why.
//
// Thread-safety: a parsed template is immutable; render() may run on several threads at once (llama.cpp executes
// one parsed program from several server slots the same way).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace batchwise {

// What a template sees of the model's tokenizer; common_chat_templates_init reads the same from the vocab.
struct ChatSpecialTokens {
  std::string bos;  // the BOS token's text ("" when the vocab has none), the template's `bos_token`
  std::string eos;  // the EOS token's text, `eos_token`
  // Tokenizing the prompt adds BOS (EOS) itself: a rendered prompt that starts with BOS's text (ends with EOS's)
  // loses it, else the model would see two.
  bool tokenizer_adds_bos = false;
  bool tokenizer_adds_eos = false;
};

class JinjaChatTemplate {
 public:
  // Parses `source` and reads its capabilities (string or typed content, a system role, ...) as llama.cpp does.
  // kInvalidArgument with the lexer's or parser's words (and the source around the spot) when it does not parse;
  // kUnsupported when this build has no Jinja engine.
  static Expected<JinjaChatTemplate> parse(const std::string& source, ChatSpecialTokens tokens = {});

  // The prompt for a chat request: `messages` is its OpenAI `messages` array, `tools` its `tools` array (null for
  // none). The template gets what llama-server gives it by default: the messages as llama.cpp normalises them,
  // bos_token/eos_token, add_generation_prompt, enable_thinking, preserve_reasoning, the date, and the tools.
  // kInvalidArgument (the request fails again as it is) names the message field that is malformed, quotes the
  // template's raise_exception (a template that refuses the messages: "Conversation roles must alternate"), or
  // says where the template failed otherwise (a filter llama.cpp's engine lacks). Never throws.
  Expected<std::string> render(const nlohmann::json& messages, const nlohmann::json& tools) const;

 private:
  struct Parsed;
  explicit JinjaChatTemplate(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const Parsed> parsed_;
};

}  // namespace batchwise
