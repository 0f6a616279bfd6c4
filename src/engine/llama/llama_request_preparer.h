// RequestPreparer: turns an OpenAI request body into the tokens the embedded engine runs. Parses the
// generation parameters, renders chat messages with the model's own template, tokenizes, and checks
// prompt + max_tokens against the context limit, so a request that cannot fit fails before it
// takes a sequence; for an embedding model, tokenizes each input of a /v1/embeddings request. Part of the llama.cpp adapter (includes llama.h).
//
// Threads: prepare() is const and may run on several threads at once (llama.cpp's tokenizer and
// template rendering only read the model).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "engine/llama/chat_template.h"
#include "engine/llama/generation_params.h"
#include "llama.h"

namespace batchwise {

// A request ready for a sequence, or carrying the error that sends it straight back.
struct PreparedRequest {
  EngineRequest request;
  GenerationParams params;
  std::vector<llama_token> prompt;
  std::optional<Error> error;
  double submitted_s = 0;
  // /v1/embeddings on an embedding model: each input's tokens (`prompt` stays empty), and the answer's encoding.
  std::vector<std::vector<llama_token>> inputs;
  bool base64 = false;
  // The request's sampler chain (null for greedy without a grammar): built here, where a grammar llama.cpp
  // cannot use fails the request before it takes a sequence, and taken by the lane as it is. Shared only for
  // its type-erased deleter: the queues that carry a PreparedRequest need no llama.cpp symbol.
  std::shared_ptr<llama_sampler> sampler;
};

class RequestPreparer {
 public:
  // `model_file` names the model in errors; `max_request_tokens` bounds prompt + max_tokens, and
  // `limit_hint` tells a user over it what sets that bound and how to raise it. `chat_template` (a built-in
  // name or a template text, chat_template.h) replaces the GGUF's own; empty: the GGUF's.
  // `embedding_model`: the model answers /v1/embeddings only (its GGUF names a pooling type), each input up to
  // `max_request_tokens`; else it generates, and /v1/embeddings requests fail saying which model would answer them.
  RequestPreparer(const llama_model* model, std::string model_file, int64_t max_request_tokens,
                  std::string limit_hint, std::string chat_template = "", bool embedding_model = false);

  // Never throws: an exception escaping the parsing (a bug, or an allocation failure on a huge
  // prompt) comes back as this request's error, so one bad line cannot end the job.
  PreparedRequest prepare(EngineRequest request) const;
  int64_t max_request_tokens() const { return max_request_tokens_; }

 private:
  // Leaves `request` in place unless it returns (the catch-all in prepare() still needs it).
  PreparedRequest prepare_or_fail(EngineRequest& request) const;
  // An embedding request's inputs as tokens, each checked against the vocabulary and the input limit.
  Status prepare_embeddings(const EngineRequest& request, PreparedRequest& p) const;
  std::vector<llama_token> tokenize(const std::string& text) const;

  const llama_vocab* vocab_;
  std::string model_file_;
  int32_t n_embd_;
  bool embedding_model_;
  ChatTemplate chat_template_;  // --chat-template's, else the GGUF's
  int64_t max_request_tokens_;
  std::string limit_hint_;
};

}  // namespace batchwise
