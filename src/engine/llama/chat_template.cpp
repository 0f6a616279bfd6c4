#include "engine/llama/chat_template.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "engine/llama/generation_params.h"
#include "llama.h"

namespace batchwise {
namespace {

// Whether llama.cpp's built-ins render `tmpl` (a built-in name, or a template text it recognises by its markers).
bool builtin_renders(const std::string& tmpl) {
  const llama_chat_message probe[] = {{"system", "s"}, {"user", "u"}};
  char out[1024];
  return llama_chat_apply_template(tmpl.c_str(), probe, 2, true, out, sizeof out) >= 0;
}

std::string builtin_list() {
  std::string listed;
  for (const auto& n : builtin_chat_templates()) listed += (listed.empty() ? "" : ", ") + n;
  return listed;
}

// A token's text as a template sees it (common_token_to_piece with special tokens rendered); "" for none.
std::string token_text(const llama_vocab* vocab, llama_token token) {
  if (token == LLAMA_TOKEN_NULL) return "";
  std::string text(64, '\0');
  int32_t n = llama_token_to_piece(vocab, token, text.data(), static_cast<int32_t>(text.size()), 0, true);
  if (n < 0) {
    text.resize(static_cast<size_t>(-n));
    n = llama_token_to_piece(vocab, token, text.data(), static_cast<int32_t>(text.size()), 0, true);
  }
  text.resize(static_cast<size_t>(std::max(n, 0)));
  return text;
}

// What common_chat_templates_init takes from the vocab for the template's bos_token and eos_token.
ChatSpecialTokens special_tokens(const llama_model* model) {
  const llama_vocab* vocab = llama_model_get_vocab(model);
  return ChatSpecialTokens{token_text(vocab, llama_vocab_bos(vocab)), token_text(vocab, llama_vocab_eos(vocab)),
                           llama_vocab_get_add_bos(vocab), llama_vocab_get_add_eos(vocab)};
}

}  // namespace

std::vector<std::string> builtin_chat_templates() {
  const int32_t n = llama_chat_builtin_templates(nullptr, 0);
  std::vector<const char*> names(static_cast<size_t>(std::max(0, n)));
  llama_chat_builtin_templates(names.data(), names.size());
  return {names.begin(), names.end()};
}

Expected<std::string> resolve_chat_template(const std::string& flag) {
  const std::vector<std::string> names = builtin_chat_templates();
  if (std::find(names.begin(), names.end(), flag) != names.end()) return flag;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(flag, ec)) {
    return make_error(ErrorCode::kInvalidArgument, "--chat-template " + flag +
                                                       ": neither one of llama.cpp's built-in templates nor a file; "
                                                       "the built-ins: " + builtin_list());
  }
  std::ifstream in(flag, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = JinjaChatTemplate::parse(text.str());
  if (parsed) return text.str();
  if (parsed.error().code == ErrorCode::kUnsupported && builtin_renders(text.str())) return text.str();
  return make_error(ErrorCode::kInvalidArgument, "--chat-template " + flag + ": " + parsed.error().message);
}

ChatTemplate::ChatTemplate(const llama_model* model, const std::string& flag_template, const std::string& model_file) {
  const std::vector<std::string> names = builtin_chat_templates();
  if (std::find(names.begin(), names.end(), flag_template) != names.end()) {
    builtin_ = flag_template;
    return;
  }
  std::string source = flag_template;
  const char* from = "--chat-template's template";
  if (source.empty()) {
    const char* gguf = llama_model_chat_template(model, nullptr);
    if (gguf == nullptr) gguf = llama_model_chat_template(model, "tool_use");
    source = gguf == nullptr ? "" : gguf;
    from = "the model's chat template";
  }
  const std::string what_to_do =
      "name a Jinja template file or one of llama.cpp's built-ins (`batchwise run --help` lists them) with "
      "--chat-template, or send raw prompts to /v1/completions";
  if (source.empty()) {
    unusable_ = Error{ErrorCode::kInvalidArgument,
                      "model " + model_file + " has no chat template (tokenizer.chat_template): " + what_to_do};
    return;
  }
  auto parsed = JinjaChatTemplate::parse(source, special_tokens(model));
  if (parsed) {
    jinja_ = std::move(*parsed);
    return;
  }
  if (builtin_renders(source)) {
    // llama-server with --no-jinja renders such a template the same way.
    log_debug(std::string(from) + " is rendered by llama.cpp's built-in for it: " + parsed.error().message);
    builtin_ = source;
    return;
  }
  unusable_ = Error{ErrorCode::kInvalidArgument, std::string(from) + " of " + model_file + " cannot be used (" +
                                                 parsed.error().message + "): " + what_to_do};
  log_warn(unusable_->message);
}

Expected<std::string> ChatTemplate::render(const nlohmann::json& body) const {
  if (unusable_) return std::unexpected(*unusable_);
  if (!jinja_) return render_builtin(body);
  // The same checks (and error words) for the messages as the built-in way; the template reads them itself.
  BW_TRY(parse_chat_messages(body));
  static const nlohmann::json kNone;
  // request_features refuses `tools` in the embedded engine today (no tool-call parsing of the answer): the
  // template gets them as llama-server gives them, for the day it does not.
  const auto tools = body.find("tools");
  return jinja_->render(body["messages"], tools == body.end() ? kNone : *tools);
}

Expected<std::string> ChatTemplate::render_builtin(const nlohmann::json& body) const {
  BW_ASSIGN_OR_RETURN(const std::vector<ChatMessage> messages, parse_chat_messages(body));
  std::vector<llama_chat_message> chat;
  for (const auto& m : messages) chat.push_back({m.role.c_str(), m.content.c_str()});
  std::string out(4096, '\0');
  int32_t n = llama_chat_apply_template(builtin_.c_str(), chat.data(), chat.size(), true, out.data(),
                                        static_cast<int32_t>(out.size()));
  if (n > static_cast<int32_t>(out.size())) {
    out.resize(static_cast<size_t>(n));
    n = llama_chat_apply_template(builtin_.c_str(), chat.data(), chat.size(), true, out.data(), n);
  }
  if (n < 0) return make_error(ErrorCode::kInternal, "llama.cpp's built-in template " + builtin_ + " failed");
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace batchwise
