// A /v1/responses request body (OpenAI's Responses API) as the /v1/chat/completions body that asks for the same
// answer, so the embedded engine renders, samples and constrains it with the chat path's code: `instructions` become
// the first (system) message, `input` (a string, or message items with input_text / output_text parts) the
// messages, `max_output_tokens` max_tokens, `text.format` response_format; temperature, top_p and the extensions
// the chat path takes (top_k, seed, stop, ignore_eos) are passed on. What would change the answer and the engine
// cannot do (tools, images and files, previous_response_id, logprobs) is refused by name; bookkeeping fields
// (store, metadata, user, reasoning, truncation, service_tier, ...) are ignored, as a local model has no use
// for them, and so is `stream` (serve streams the answer itself; a batch line's comes whole). Pure function;
// thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchwise {

Expected<nlohmann::json> chat_body_from_responses(const nlohmann::json& body);

// An error of the chat path about the converted body, in the Responses API's field names (`text.format`, not
// `response_format`).
Error in_responses_terms(Error e);

}  // namespace batchwise
