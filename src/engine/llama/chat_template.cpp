#include "engine/llama/chat_template.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "llama.h"

namespace batchwise {

std::vector<std::string> builtin_chat_templates() {
  const int32_t n = llama_chat_builtin_templates(nullptr, 0);
  std::vector<const char*> names(static_cast<size_t>(std::max(0, n)));
  llama_chat_builtin_templates(names.data(), names.size());
  return {names.begin(), names.end()};
}

bool chat_template_known(const std::string& tmpl) {
  const llama_chat_message probe[] = {{"system", "s"}, {"user", "u"}};
  char out[1024];
  return llama_chat_apply_template(tmpl.c_str(), probe, 2, true, out, sizeof out) >= 0;
}

Expected<std::string> resolve_chat_template(const std::string& flag) {
  const std::vector<std::string> names = builtin_chat_templates();
  std::string listed;
  for (const auto& n : names) listed += (listed.empty() ? "" : ", ") + n;
  if (std::find(names.begin(), names.end(), flag) != names.end()) return flag;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(flag, ec)) {
    return make_error(ErrorCode::kInvalidArgument, "--chat-template " + flag +
                                                       ": neither one of llama.cpp's built-in templates nor a file; "
                                                       "the built-ins: " + listed);
  }
  std::ifstream in(flag, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!chat_template_known(text.str())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--chat-template " + flag + ": llama.cpp does not recognise this template (it renders the "
                      "families it knows by their markers, not any Jinja): name the family's built-in instead: " + listed);
  }
  return text.str();
}

}  // namespace batchwise
