// The stand-in for a build against an installed llama package, which ships no common/jinja sources to build
// llama.cpp's Jinja engine from (jinja_chat.h): every parse says so, and what to do instead.
#include "engine/llama/jinja_chat/jinja_chat.h"

namespace batchwise {

struct JinjaChatTemplate::Parsed {};

Expected<JinjaChatTemplate> JinjaChatTemplate::parse(const std::string&, ChatSpecialTokens) {
  return make_error(ErrorCode::kUnsupported,
                    "this batchwise was built against an installed llama.cpp package, without llama.cpp's Jinja "
                    "engine (its common/jinja sources): build it with scripts/build.sh (the pinned llama.cpp), or "
                    "name a built-in template with --chat-template");
}

Expected<std::string> JinjaChatTemplate::render(const nlohmann::json&, const nlohmann::json&) const {
  return make_error(ErrorCode::kInternal, "no Jinja engine in this build");  // parse() never made one
}

}  // namespace batchwise
