#include "engine/engine.h"

namespace batchwise {

std::optional<ApiKind> api_kind_from_url(std::string_view url) {
  if (url == "/v1/chat/completions") return ApiKind::kChatCompletions;
  if (url == "/v1/completions") return ApiKind::kCompletions;
  if (url == "/v1/embeddings") return ApiKind::kEmbeddings;
  if (url == "/v1/responses") return ApiKind::kResponses;
  return std::nullopt;
}

std::string_view api_kind_url(ApiKind kind) {
  switch (kind) {
    case ApiKind::kChatCompletions: return "/v1/chat/completions";
    case ApiKind::kCompletions: return "/v1/completions";
    case ApiKind::kEmbeddings: return "/v1/embeddings";
    case ApiKind::kResponses: return "/v1/responses";
  }
  return "";
}

std::string api_kind_urls_text() {
  return "/v1/chat/completions, /v1/responses, /v1/completions or /v1/embeddings";
}

}  // namespace batchwise
