#include "engine/openai_response.h"

#include <algorithm>

namespace batchwise {
namespace {

int64_t int_at(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<int64_t>();
}

// The server's own words about an error: OpenAI's {"error": {"message": ...}}, else the body's start.
std::string error_text(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object() && e->contains("message") && (*e)["message"].is_string()) {
      return (*e)["message"].get<std::string>();
    }
    if (e != j.end() && e->is_string()) return e->get<std::string>();
  }
  std::string text = body.substr(0, 200);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

ResponseUsage read_usage(const nlohmann::json& body) {
  ResponseUsage u;
  if (!body.is_object()) return u;
  if (auto it = body.find("usage"); it != body.end() && it->is_object()) {
    u.prompt_tokens = int_at(*it, "prompt_tokens");
    u.completion_tokens = int_at(*it, "completion_tokens");
    if (auto d = it->find("prompt_tokens_details"); d != it->end() && d->is_object()) {
      u.cached_tokens = int_at(*d, "cached_tokens");
    }
  }
  if (auto t = body.find("timings"); t != body.end() && t->is_object()) {
    u.llama_server = true;
    if (u.cached_tokens == 0) u.cached_tokens = int_at(*t, "cache_n");
  }
  u.cached_tokens = std::clamp<int64_t>(u.cached_tokens, 0, u.prompt_tokens);
  return u;
}

Error error_for_http_status(int status, const std::string& body) {
  const std::string what = "HTTP " + std::to_string(status) + ": " + error_text(body);
  if (status == 429) return {ErrorCode::kRateLimited, what};
  if (status == 408) return {ErrorCode::kTimeout, what};
  if (status >= 500) return {ErrorCode::kServerError, what};
  if (status == 401 || status == 403) {
    return {ErrorCode::kInvalidArgument, what + " (the endpoint refused the API key: check --api-key-env)"};
  }
  if (status == 400 && (body.find("context_length") != std::string::npos ||
                        body.find("exceed_context") != std::string::npos ||
                        body.find("context size") != std::string::npos)) {
    return {ErrorCode::kContextExceeded, what};
  }
  return {ErrorCode::kInvalidArgument, what};
}

Expected<std::string> normalize_endpoint(std::string_view url) {
  const size_t scheme = url.starts_with("http://") ? 7 : url.starts_with("https://") ? 8 : 0;
  if (scheme == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--endpoint " + std::string(url) + ": give an http:// or https:// URL, e.g. http://127.0.0.1:8080");
  }
  std::string rest(url.substr(scheme));
  while (rest.ends_with("/")) rest.pop_back();
  if (rest.ends_with("/v1")) rest.resize(rest.size() - 3);
  while (rest.ends_with("/")) rest.pop_back();
  if (rest.empty() || rest.front() == '/') {
    return make_error(ErrorCode::kInvalidArgument, "--endpoint " + std::string(url) + ": no host");
  }
  return std::string(url.substr(0, scheme)) + rest;
}

}  // namespace batchwise
