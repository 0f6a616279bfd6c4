// What the HTTP engine reads from an OpenAI-compatible server's answer: token usage (with prompt
// tokens served from the server's prefix cache, as OpenAI/vLLM report them in
// usage.prompt_tokens_details.cached_tokens — input_tokens_details for /v1/responses — or llama-server in
// timings.cache_n), whether the server looks like llama-server, and which ErrorCode an HTTP status means.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace batchwise {

struct ResponseUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  bool llama_server = false;  // the body carries llama-server's `timings`
  bool has_choices = false;   // a top-level `choices` array
  bool has_output = false;    // a top-level `output` array (the Responses API's answer)
  int choices = 0;            // objects in it
  int choices_with_message = 0;  // of those, with a `message` (chat) ...
  int choices_with_text = 0;     // ... or a `text` (completions)
  std::string shape_error;    // what is wrong with `choices` ("a choice's `text` is not a string"); empty: ok
};

// Reads usage from a response body without building it (a SAX pass: the event loop does this for
// every answer). nullopt when the body is not valid JSON.
std::optional<ResponseUsage> read_usage(std::string_view body);

// Why a 2xx answer to a chat/text completion is not one (no `choices` or an empty one, a choice
// without its `message`/`text`, a content that is not a string, nesting past kMaxJsonDepth), or "" when it is;
// a Responses answer needs its `output` array; embeddings are not checked.
std::string answer_shape_error(ApiKind kind, const ResponseUsage& usage);

// The error class of a non-2xx HTTP answer: 400/404/422 -> invalid request (never retried; a 400 or
// 413 naming the context length -> context exceeded), 401/403 -> invalid request with a message about
// the API key, 408 -> timeout, 429 -> rate limited, 5xx -> server error, except a 5xx that says the
// context size was exceeded (llama-server's full KV cache): context exceeded, final too.
Error error_for_http_status(int status, const std::string& body);

// llama-server's GET /props answer: `total_slots` (its -np), or nullopt when the body has none (another
// server, an error page).
std::optional<int> read_total_slots(std::string_view body);

// "http://host:8080/v1/" -> "http://host:8080"; refuses what is not an http(s) URL.
Expected<std::string> normalize_endpoint(std::string_view url);
// Each of --endpoint's URLs normalized; none given, or one given twice, is an error naming it.
Expected<std::vector<std::string>> normalize_endpoints(const std::vector<std::string>& urls);

}  // namespace batchwise
