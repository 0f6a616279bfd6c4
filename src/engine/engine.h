// Engine: what runs requests. The embedded llama.cpp engine and the HTTP endpoint pool both
// implement it, so the runner, tune and serve do not care which one does the work.
//
// Threads: submit() and stats() may be called from any thread. Completions are delivered to the
// callback given to start(), on the engine's own threads (the HTTP event loop, or any lane of the
// embedded engine, at once): it must be quick and thread-safe (push to a locked queue).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchwise {

// The OpenAI endpoints a batch line may name in `url`.
enum class ApiKind { kChatCompletions, kCompletions, kEmbeddings, kResponses };
inline constexpr size_t kApiKinds = 4;

// "/v1/chat/completions" -> kChatCompletions; anything else unknown gives nullopt.
std::optional<ApiKind> api_kind_from_url(std::string_view url);
std::string_view api_kind_url(ApiKind kind);
// The urls api_kind_from_url takes, for error messages: "/v1/chat/completions, ... or /v1/embeddings".
std::string api_kind_urls_text();

struct EngineRequest {
  uint64_t key = 0;          // the caller's handle, returned in EngineResult
  ApiKind kind = ApiKind::kChatCompletions;
  nlohmann::json body;       // the OpenAI request body, as given (null when body_text carries it)
  // The body's JSON text as the batch input had it: engines that send it on (takes_body_text()) send
  // these bytes, so a server sees the user's key order and numbers; for the others the runner parses
  // it into `body` first.
  std::string body_text;
  std::string request_id;    // echoed into the response (OpenAI's `request_id`)
  uint64_t prefix_key = 0;   // hash of the prompt's start (BatchInput's); 0: unknown. Engines with
                             // several servers send equal keys to the same one (its prefix cache).
  // Streaming (serve's `stream: true`): called on the engine's thread with each new piece of the answer's text
  // as it is generated, before the result. A piece never splits a UTF-8 character nor holds text that a stop
  // string cuts later; the pieces joined are the result's text. Engines that cannot stream never call it (the
  // result carries the whole text).
  std::function<void(std::string_view)> on_text;
};

// Per-request timings, milliseconds from submit().
struct RequestTimings {
  double queue_ms = 0;       // submit -> first token of the prompt evaluated (or sent)
  double ttft_ms = 0;        // submit -> first generated token
  double total_ms = 0;       // submit -> done
  double itl_ms = 0;         // mean gap between generated chunks (streamed HTTP answers); 0: not measured
};

struct EngineResult {
  uint64_t key = 0;
  // On success: HTTP-like status 200 and the OpenAI response body (with `usage`).
  int status_code = 200;
  nlohmann::json body;
  std::optional<Error> error;  // set when the request failed; error->code classifies it
  // When set: the body exactly as the server sent it (the HTTP engine), and `body` may be null.
  std::string raw_body;
  double retry_after_s = 0;    // the server asked for this pause before a retry (429); 0: no hint
  RequestTimings timings;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;     // prompt tokens that were not evaluated for this request
  int64_t completion_tokens = 0;
};

struct EngineStats {
  int64_t prompt_tokens_submitted = 0;  // sum of prompt lengths of finished requests
  int64_t prompt_tokens_evaluated = 0;  // prompt tokens actually run through the model
  int64_t generated_tokens = 0;
  int64_t requests_done = 0;
  int64_t requests_failed = 0;
  // Where the embedded engine's thread spends its time (zero for engines that do not step):
  int64_t steps = 0;             // llama_decode calls
  int64_t step_tokens = 0;       // tokens in them (prompt + generated)
  double decode_call_s = 0;      // inside llama_decode: graph, inputs (the KQ mask), launch
  double graph_s = 0;            //   of which building and allocating graphs
  double inputs_s = 0;           //   of which setting their inputs (the KQ mask is the large one)
  double launch_s = 0;           //   of which handing the graph to the backend
  int64_t graphs_reused = 0;     // steps whose graph was the previous one's
  int64_t sparse_steps = 0;      // compute steps whose attention went over each sequence's own cells only
  int64_t cascade_steps = 0;     // compute steps whose attention took a lane's shared prefix apart (cascade)
  double wait_s = 0;             // waiting for a step's outputs: the device still computing
  double host_s = 0;             // our own work: admission, batch building, sampling, results
};

class Engine {
 public:
  // Takes one or more results: an engine hands over together what it finished together, so that the
  // receiver wakes once for them, not once each (a wake-up costs more than the rest of a request).
  using Callback = std::function<void(std::vector<EngineResult>)>;
  virtual ~Engine() = default;
  static std::vector<EngineResult> one(EngineResult r) {
    std::vector<EngineResult> v;
    v.push_back(std::move(r));
    return v;
  }

  // Begins work; results go to `on_done` on the engine's threads.
  virtual Status start(Callback on_done) = 0;

  // Queues a request. Blocks while the engine already holds max_in_flight() requests (backpressure).
  // Returns false once stop() was called.
  virtual bool submit(EngineRequest request) = 0;

  // Stops taking work; requests not yet started come back with ErrorCode::kCancelled; waits for
  // those in flight when `finish_in_flight`, else cancels them too. Idempotent.
  virtual void stop(bool finish_in_flight) = 0;

  // Whether submit() takes a request whose body is only body_text (the HTTP engine sends the bytes);
  // else the runner parses body_text into `body` first.
  virtual bool takes_body_text() const { return false; }

  // How many requests the engine wants queued at once to stay busy.
  virtual size_t max_in_flight() const = 0;

  virtual EngineStats stats() const = 0;
  // Set once the engine cannot go on (every HTTP endpoint stalled, an embedded engine's thread failed):
  // the runner then stops, keeping what was not done pending for a resume. Any thread.
  virtual std::optional<Error> failure() const { return std::nullopt; }
  virtual std::string description() const = 0;  // "llama.cpp (embedded): tiny.gguf, 64 sequences"
};

}  // namespace batchwise
