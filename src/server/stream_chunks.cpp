#include "server/stream_chunks.h"

#include "core/clock.h"

namespace batchwise {

StreamChunks::StreamChunks(bool chat, std::string model, const std::string& request_id)
    : chat_(chat), model_(std::move(model)), id_((chat ? "chatcmpl-" : "cmpl-") + request_id), created_(unix_time_s()) {}

nlohmann::json StreamChunks::chunk(nlohmann::json choice) const {
  return {{"id", id_},
          {"object", chat_ ? "chat.completion.chunk" : "text_completion"},
          {"created", created_},
          {"model", model_},
          {"choices", choice.is_null() ? nlohmann::json::array() : nlohmann::json::array({std::move(choice)})}};
}

nlohmann::json StreamChunks::start() const {
  if (!chat_) return text("");
  return chunk({{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
}

nlohmann::json StreamChunks::text(const std::string& piece) const {
  if (chat_) return chunk({{"index", 0}, {"delta", {{"content", piece}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
  return chunk({{"index", 0}, {"text", piece}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
}

nlohmann::json StreamChunks::finish(const std::string& finish_reason) const {
  const nlohmann::json reason = finish_reason.empty() ? nlohmann::json() : nlohmann::json(finish_reason);
  if (chat_) return chunk({{"index", 0}, {"delta", nlohmann::json::object()}, {"logprobs", nullptr}, {"finish_reason", reason}});
  return chunk({{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", reason}});
}

nlohmann::json StreamChunks::usage(const nlohmann::json& usage) const {
  nlohmann::json c = chunk(nullptr);
  c["usage"] = usage;
  return c;
}

namespace {

const nlohmann::json* first_choice(const nlohmann::json& answer) {
  if (!answer.is_object()) return nullptr;
  const auto c = answer.find("choices");
  return c != answer.end() && c->is_array() && !c->empty() && (*c)[0].is_object() ? &(*c)[0] : nullptr;
}

}  // namespace

std::string StreamChunks::answer_text(bool chat, const nlohmann::json& answer) {
  const nlohmann::json* c = first_choice(answer);
  if (c == nullptr) return "";
  const nlohmann::json* text = nullptr;
  if (chat) {
    const auto m = c->find("message");
    if (m != c->end() && m->is_object() && m->contains("content")) text = &(*m)["content"];
  } else if (c->contains("text")) {
    text = &(*c)["text"];
  }
  return text != nullptr && text->is_string() ? text->get<std::string>() : "";
}

std::string StreamChunks::finish_reason(bool, const nlohmann::json& answer) {
  const nlohmann::json* c = first_choice(answer);
  if (c == nullptr) return "";
  const auto r = c->find("finish_reason");
  return r != c->end() && r->is_string() ? r->get<std::string>() : "";
}

}  // namespace batchwise
