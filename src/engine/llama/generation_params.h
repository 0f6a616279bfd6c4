// GenerationParams: what an OpenAI request body asks of generation (sampling, limits, stops),
// read and checked once, so engines never look at raw JSON fields again.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace batchwise {

struct ChatMessage {
  std::string role;
  std::string content;
};

struct GenerationParams {
  int64_t max_tokens = 16;           // OpenAI's default for /v1/completions; chat default set below
  double temperature = 1.0;          // OpenAI's default; 0 means greedy
  double top_p = 1.0;
  int32_t top_k = 0;                 // extension (llama-server, vLLM); 0 = off
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;     // up to 4, as OpenAI allows
  bool ignore_eos = false;           // extension (vLLM, llama-server): generate max_tokens always
  // Log-probabilities of the chosen tokens and of this many alternatives (chat: logprobs=true and
  // top_logprobs 0..20; completions: logprobs 0..5). -1: not asked for.
  int32_t top_logprobs = -1;
  // GBNF grammar every token must follow (from response_format json_object / json_schema); "": none.
  std::string grammar;

  bool greedy() const { return temperature <= 0.0 || top_k == 1; }
};

// The default number of tokens a chat request generates without max_tokens / max_completion_tokens.
inline constexpr int64_t kDefaultChatMaxTokens = 256;

// Reads sampling fields and response_format from a request body, and refuses the fields the embedded
// engine cannot serve (request_features.h); errors name the field ("`temperature` must be 0..2").
Expected<GenerationParams> parse_generation_params(ApiKind kind, const nlohmann::json& body);

// Chat messages of a /v1/chat/completions body (content as a string or text parts).
Expected<std::vector<ChatMessage>> parse_chat_messages(const nlohmann::json& body);

// The prompt string of a /v1/completions body (a string, or an array holding one string).
Expected<std::string> parse_completion_prompt(const nlohmann::json& body);

}  // namespace batchwise
