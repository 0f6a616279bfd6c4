#include "engine/llama/llama_request_preparer.h"

#include "engine/llama/embedding_body.h"
#include "engine/llama/llama_samplers.h"
#include "engine/llama/responses_request.h"

#include <algorithm>

namespace batchwise {

RequestPreparer::RequestPreparer(const llama_model* model, std::string model_file, int64_t max_request_tokens,
                                 std::string limit_hint, std::string chat_template, bool embedding_model)
    : vocab_(llama_model_get_vocab(model)), model_file_(model_file), n_embd_(llama_model_n_embd(model)),
      embedding_model_(embedding_model), chat_template_(model, chat_template, model_file),
      max_request_tokens_(max_request_tokens), limit_hint_(std::move(limit_hint)) {}

PreparedRequest RequestPreparer::prepare(EngineRequest request) const {
  auto failed = [&](std::string what) {
    PreparedRequest p;
    p.error = Error{ErrorCode::kInternal, "preparing the request failed (" + what + "); the rest of the job goes on"};
    p.request = std::move(request);
    return p;
  };
  try {
    return prepare_or_fail(request);
  } catch (const std::exception& e) {
    return failed(e.what());
  } catch (...) {
    return failed("unknown exception");
  }
}

PreparedRequest RequestPreparer::prepare_or_fail(EngineRequest& request) const {
  PreparedRequest p;
  auto fail = [&](Error e) {
    p.error = std::move(e);
    p.request = std::move(request);
    return std::move(p);
  };
  if (embedding_model_ != (request.kind == ApiKind::kEmbeddings)) {
    return fail(embedding_model_
                    ? Error{ErrorCode::kUnsupported, model_file_ + " is an embedding model: it answers /v1/embeddings "
                                                     "only (give a generative model's GGUF with -m for " +
                                                         std::string(api_kind_url(request.kind)) + ")"}
                    : Error{ErrorCode::kUnsupported,
                            model_file_ + " is not an embedding model (its GGUF names no pooling type): give an "
                                          "embedding model's GGUF with -m for /v1/embeddings (nomic-embed-text, bge, "
                                          "Qwen3-Embedding, ...), or --endpoint with a server that has one"});
  }
  if (embedding_model_) {
    if (auto st = prepare_embeddings(request, p); !st) return fail(st.error());
    p.request = std::move(request);
    return p;
  }
  // A /v1/responses body is served as the chat body that asks for the same answer; the request keeps its own
  // body (the answer echoes its model) and kind (the answer is a Responses object).
  std::optional<nlohmann::json> chat_body;
  if (request.kind == ApiKind::kResponses) {
    auto converted = chat_body_from_responses(request.body);
    if (!converted) return fail(converted.error());
    chat_body = std::move(*converted);
  }
  const ApiKind kind = chat_body ? ApiKind::kChatCompletions : request.kind;
  const nlohmann::json& body = chat_body ? *chat_body : request.body;
  auto params = parse_generation_params(kind, body);
  if (!params) return fail(chat_body ? in_responses_terms(params.error()) : params.error());
  p.params = *params;
  if (!p.params.greedy() || !p.params.grammar.empty()) {
    p.sampler = std::shared_ptr<llama_sampler>(make_request_sampler(p.params, request.key, vocab_));
    if (!p.sampler) {
      const Error e{ErrorCode::kInvalidArgument, "body field `response_format`: llama.cpp cannot use its grammar"};
      return fail(chat_body ? in_responses_terms(e) : e);
    }
  }
  std::string text;
  if (kind == ApiKind::kChatCompletions) {
    auto rendered = chat_template_.render(body);
    if (!rendered) return fail(rendered.error());
    text = std::move(*rendered);
  } else if (kind == ApiKind::kCompletions) {
    auto prompt = parse_completion_prompt(request.body);
    if (!prompt) return fail(prompt.error());
    text = std::move(*prompt);
  }
  p.prompt = tokenize(text);
  if (p.prompt.empty()) return fail(Error{ErrorCode::kInvalidArgument, "the prompt is empty"});
  // Compared without adding: max_tokens may be up to INT64_MAX, and prompt + max_tokens would wrap.
  const auto prompt_tokens = static_cast<int64_t>(p.prompt.size());
  const std::string max_name = chat_body ? "max_output_tokens" : "max_tokens";
  if (prompt_tokens > max_request_tokens_ || p.params.max_tokens > max_request_tokens_ - prompt_tokens) {
    return fail(Error{ErrorCode::kContextExceeded,
                      "prompt of " + std::to_string(prompt_tokens) + " tokens + " + max_name + " " +
                          std::to_string(p.params.max_tokens) + " exceeds the context limit of " +
                          std::to_string(max_request_tokens_) + " (" + limit_hint_ +
                          "): shorten the prompt or lower " + max_name});
  }
  p.request = std::move(request);
  return p;
}

Status RequestPreparer::prepare_embeddings(const EngineRequest& request, PreparedRequest& p) const {
  BW_ASSIGN_OR_RETURN(EmbeddingInputs in, parse_embedding_body(request.body));
  if (in.dimensions && *in.dimensions != n_embd_) {
    return make_error(ErrorCode::kInvalidArgument,
                      "body field `dimensions`: " + model_file_ + " gives vectors of " + std::to_string(n_embd_) +
                          " (shortening them is only right for a model trained for it): leave it out");
  }
  p.base64 = in.base64;
  const int32_t n_vocab = llama_vocab_n_tokens(vocab_);
  for (size_t i = 0; i < in.inputs.size(); ++i) {
    const std::string where = in.inputs.size() > 1 ? "input[" + std::to_string(i) + "]" : "input";
    std::vector<llama_token> tokens;
    if (const auto* text = std::get_if<std::string>(&in.inputs[i])) {
      tokens = tokenize(*text);
    } else {
      for (int32_t id : std::get<std::vector<int32_t>>(in.inputs[i])) {
        if (id >= n_vocab) {
          return make_error(ErrorCode::kInvalidArgument, "body field `" + where + "`: token id " + std::to_string(id) +
                                                             " is not in the vocabulary of " + std::to_string(n_vocab));
        }
        tokens.push_back(id);
      }
    }
    if (tokens.empty()) return make_error(ErrorCode::kInvalidArgument, "body field `" + where + "` is empty");
    if (static_cast<int64_t>(tokens.size()) > max_request_tokens_) {
      return make_error(ErrorCode::kContextExceeded, "body field `" + where + "` is " + std::to_string(tokens.size()) +
                                                         " tokens, over the limit of " +
                                                         std::to_string(max_request_tokens_) + " (" + limit_hint_ +
                                                         "): split it");
    }
    p.inputs.push_back(std::move(tokens));
  }
  return {};
}

std::vector<llama_token> RequestPreparer::tokenize(const std::string& text) const {
  std::vector<llama_token> tokens(text.size() + 8);
  int32_t n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                             static_cast<int32_t>(tokens.size()), /*add_special=*/true, /*parse_special=*/true);
  if (n < 0) {
    tokens.resize(static_cast<size_t>(-n));
    n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                       static_cast<int32_t>(tokens.size()), true, true);
  }
  tokens.resize(static_cast<size_t>(std::max(n, 0)));
  return tokens;
}

}  // namespace batchwise
