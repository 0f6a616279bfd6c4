// --chat-template: the chat template a run renders messages with, instead of the GGUF's own: one of llama.cpp's
// built-in templates by name (chatml, llama3, mistral-v7, gemma, deepseek3, ...), or a file holding a template's
// text that llama.cpp recognises. For a GGUF whose own template llama.cpp does not know, or that has none.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

// llama.cpp's built-in template names (llama_chat_builtin_templates).
std::vector<std::string> builtin_chat_templates();

// Whether llama.cpp renders `tmpl` (a built-in name, or a template text it recognises by its markers).
bool chat_template_known(const std::string& tmpl);

// The template --chat-template names: a built-in name as it is, else the file's text; a usage error naming the
// built-ins when it is neither, or when llama.cpp does not recognise the file's template.
Expected<std::string> resolve_chat_template(const std::string& flag);

}  // namespace batchwise
