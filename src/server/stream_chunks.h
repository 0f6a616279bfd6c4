// StreamChunks: the objects of an OpenAI streamed answer (`stream: true`), one per server-sent event:
// chat.completion.chunk (a delta of the assistant's message) or text_completion (a piece of text), all with the
// answer's one id, created time and model. Pure: the caller writes them out.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace batchwise {

class StreamChunks {
 public:
  StreamChunks(bool chat, std::string model, const std::string& request_id);

  // The first event: the assistant's role (chat; an empty text piece for completions).
  nlohmann::json start() const;
  nlohmann::json text(const std::string& piece) const;
  nlohmann::json finish(const std::string& finish_reason) const;
  // The last event when stream_options.include_usage asks: no choices, the answer's usage.
  nlohmann::json usage(const nlohmann::json& usage) const;

  // From a whole answer's body: its text and finish reason ("" when absent).
  static std::string answer_text(bool chat, const nlohmann::json& answer);
  static std::string finish_reason(bool chat, const nlohmann::json& answer);

 private:
  nlohmann::json chunk(nlohmann::json choice) const;
  bool chat_;
  std::string model_, id_;
  int64_t created_;
};

}  // namespace batchwise
