// ResponseEvents: the server-sent events of a streamed /v1/responses answer (`stream: true`), as OpenAI's Responses
// API sends them: response.created and response.in_progress, the message item and its output_text part added, one
// response.output_text.delta per piece of text, then the text, part and item done, and response.completed (or
// response.incomplete when max_output_tokens cut it) carrying the whole Response object. Every event has its `type`
// and a rising `sequence_number`; the message's id is the final Response's. Pure: the caller writes them out.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

class ResponseEvents {
 public:
  // `request_id`: the request's id in the engine, which the answer's ids are made of (resp_ID, msg_ID).
  ResponseEvents(std::string model, const std::string& request_id);

  std::vector<nlohmann::json> start();
  nlohmann::json text(const std::string& piece);
  // From the whole answer: the closing events, the last one carrying `reply` itself.
  std::vector<nlohmann::json> finish(const nlohmann::json& reply);
  nlohmann::json error(const Error& e);

  // A Response object's text: its output_text parts joined ("" when it has none).
  static std::string answer_text(const nlohmann::json& reply);

 private:
  nlohmann::json event(const std::string& type, nlohmann::json fields);
  nlohmann::json in_progress_response() const;
  nlohmann::json text_part(const std::string& text) const;

  std::string model_, response_id_, message_id_;
  int64_t created_at_;
  int64_t sequence_ = 0;
  std::string text_;  // the text sent so far
};

}  // namespace batchwise
