// libFuzzer target: the batch-line scanner, the second read of each valid line (its body's bytes, as
// the scan located them, must be one JSON object), and the request parsing the embedded engine does on
// it (generation parameters, chat messages, prompt; embedding inputs; a /v1/responses body turned into its
// chat body). Any input must give per-line errors or requests: no crash, no stack overflow, no exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/json_read.h"

#include "engine/llama/embedding_body.h"
#include "engine/llama/generation_params.h"
#include "engine/llama/responses_request.h"
#include "fuzz_file.h"
#include "job/batch_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchwise;
  const auto path = fuzz::write_input(data, size, ".jsonl");
  auto input = scan_batch_input(path);
  if (!input) return 0;
  auto reader = BatchReader::open(path);
  if (!reader) return 0;
  for (const auto& line : input->requests) {
    auto bytes = reader->read_body(line);
    if (!bytes) continue;
    // The scan said this line is valid: the span it found must be exactly the body object.
    const auto body = parse_json_bounded(bytes->body_text);
    if (!body || !body->is_object()) std::abort();
    auto request = reader->read(line);
    if (!request) continue;
    (void)parse_generation_params(request->kind, request->body);
    if (request->kind == ApiKind::kChatCompletions) (void)parse_chat_messages(request->body);
    if (request->kind == ApiKind::kCompletions) (void)parse_completion_prompt(request->body);
    if (request->kind == ApiKind::kEmbeddings) (void)parse_embedding_body(request->body);
    if (request->kind == ApiKind::kResponses) {
      // The chat body a Responses body becomes must be one the chat path reads without surprise.
      auto chat = chat_body_from_responses(request->body);
      if (!chat) continue;
      (void)parse_generation_params(ApiKind::kChatCompletions, *chat);
      if (!parse_chat_messages(*chat)) std::abort();
    }
  }
  return 0;
}
