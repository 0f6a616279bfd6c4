#include "engine/llama/llama_response.h"

#include <algorithm>

#include "core/clock.h"

namespace batchwise {
namespace {

// OpenAI's chat `logprobs.content` list, or the legacy completions object.
nlohmann::json logprobs_json(const CompletionOutcome& o, const llama_vocab* vocab, bool chat) {
  const size_t n = std::min(o.logprobs->size(), o.generated->size());
  if (chat) {
    nlohmann::json content = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
      const auto& lp = (*o.logprobs)[i];
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [t, v] : lp.top) top.push_back({{"token", token_piece(vocab, t)}, {"logprob", v}, {"id", t}});
      content.push_back(
          {{"token", token_piece(vocab, lp.token)}, {"logprob", lp.logprob}, {"id", lp.token}, {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  nlohmann::json tokens = nlohmann::json::array(), values = nlohmann::json::array(), tops = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    const auto& lp = (*o.logprobs)[i];
    tokens.push_back(token_piece(vocab, lp.token));
    values.push_back(lp.logprob);
    nlohmann::json top = nlohmann::json::object();
    for (const auto& [t, v] : lp.top) top[token_piece(vocab, t)] = v;
    tops.push_back(top);
  }
  return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}};
}

}  // namespace

std::string token_piece(const llama_vocab* vocab, llama_token token) {
  if (token < 0 || token >= llama_vocab_n_tokens(vocab)) return {};
  char buf[256];
  const int32_t n = llama_token_to_piece(vocab, token, buf, sizeof buf, 0, false);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

namespace {

// OpenAI's Response object: the answer as one assistant message of output_text, "incomplete" when max_output_tokens
// cut it; the request's own settings echoed where it gave them, as OpenAI's answer does.
nlohmann::json responses_body(const CompletionOutcome& o, const std::string& model) {
  const auto& body = o.request->body;
  const size_t output_tokens = o.generated->size();
  const bool complete = o.finish_reason != "length";
  nlohmann::json message = {
      {"type", "message"},
      {"id", "msg_" + o.request->request_id},
      {"status", complete ? "completed" : "incomplete"},
      {"role", "assistant"},
      {"content",
       nlohmann::json::array({{{"type", "output_text"}, {"text", o.text}, {"annotations", nlohmann::json::array()}}})},
  };
  nlohmann::json out = {
      {"id", "resp_" + o.request->request_id},
      {"object", "response"},
      {"created_at", unix_time_s()},
      {"status", complete ? "completed" : "incomplete"},
      {"error", nullptr},
      {"incomplete_details", complete ? nlohmann::json() : nlohmann::json{{"reason", "max_output_tokens"}}},
      {"model", model},
      {"output", nlohmann::json::array({std::move(message)})},
      {"usage",
       {{"input_tokens", o.prompt_tokens},
        {"input_tokens_details", {{"cached_tokens", o.cached_tokens}}},
        {"output_tokens", output_tokens},
        {"output_tokens_details", {{"reasoning_tokens", 0}}},
        {"total_tokens", o.prompt_tokens + output_tokens}}},
  };
  for (const char* echoed : {"instructions", "max_output_tokens", "temperature", "top_p", "text", "metadata"}) {
    if (const auto it = body.find(echoed); it != body.end()) out[echoed] = *it;
  }
  return out;
}

}  // namespace

nlohmann::json completion_response_body(const CompletionOutcome& o, const llama_vocab* vocab) {
  const auto& body = o.request->body;
  const std::string model =
      body.contains("model") && body["model"].is_string() ? body["model"].get<std::string>() : o.model_name;
  if (o.request->kind == ApiKind::kResponses) return responses_body(o, model);
  const size_t completion_tokens = o.generated->size();
  nlohmann::json usage = {
      {"prompt_tokens", o.prompt_tokens},
      {"completion_tokens", completion_tokens},
      {"total_tokens", o.prompt_tokens + completion_tokens},
      {"prompt_tokens_details", {{"cached_tokens", o.cached_tokens}}},
  };
  const bool chat = o.request->kind == ApiKind::kChatCompletions;
  nlohmann::json choice = {{"index", 0}, {"finish_reason", o.finish_reason}, {"logprobs", nullptr}};
  if (o.with_logprobs) choice["logprobs"] = logprobs_json(o, vocab, chat);
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", o.text}};
  } else {
    choice["text"] = o.text;
  }
  return {
      {"id", (chat ? "chatcmpl-" : "cmpl-") + o.request->request_id},
      {"object", chat ? "chat.completion" : "text_completion"},
      {"created", unix_time_s()},
      {"model", model},
      {"choices", nlohmann::json::array({choice})},
      {"usage", usage},
  };
}

}  // namespace batchwise
