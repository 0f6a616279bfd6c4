// The OpenAI response body of a finished embedded-engine request: chat.completion, text_completion or (for
// /v1/responses) a Response object, with usage (cached prompt tokens included) and logprobs when asked for.
// Part of the llama.cpp adapter (includes llama.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/llama/token_logprobs.h"
#include "llama.h"

namespace batchwise {

struct CompletionOutcome {
  const EngineRequest* request = nullptr;
  std::string model_name;             // when the body names no model
  size_t prompt_tokens = 0;
  size_t cached_tokens = 0;
  const std::vector<llama_token>* generated = nullptr;
  const std::vector<TokenLogprobs>* logprobs = nullptr;  // one per generated token, when asked for
  bool with_logprobs = false;
  std::string_view text;
  std::string_view finish_reason;     // "stop" or "length"
};

nlohmann::json completion_response_body(const CompletionOutcome& outcome, const llama_vocab* vocab);

// The text of one token; empty for an id outside the vocabulary.
std::string token_piece(const llama_vocab* vocab, llama_token token);

}  // namespace batchwise
