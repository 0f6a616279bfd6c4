// SseAssembler: turns an OpenAI-compatible streamed answer (`"stream": true`, server-sent events)
// back into the body a non-streamed request would have got, and records when content arrived.
//
// Bytes are fed as they come off the socket; chunk boundaries may fall anywhere (inside a line, a
// UTF-8 sequence or a JSON string). Events are `data: {...}` lines ended by a blank line; `data:
// [DONE]` ends the stream; comments (`: ...`) and other fields (event, id, retry) are ignored.
// The assembled body has id, object ("chat.completion" or "text_completion"), created, model, one
// choice per index with the concatenated message.content (or text) and its finish_reason, the usage
// of the final usage chunk (stream_options.include_usage) and llama-server's `timings` if sent.
//
// Times are whatever clock the caller passes (seconds); the class never reads a clock. Not
// thread-safe: one assembler per transfer, fed from one thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

class SseAssembler {
 public:
  explicit SseAssembler(bool chat) : chat_(chat) {}

  // Consumes bytes received at `now_s`. An error (a data line that is not JSON, an error event from
  // the server) is sticky: later feeds do nothing and finish() returns it.
  Status feed(std::string_view bytes, double now_s);

  // After the transfer ended: the assembled body, or an error when the stream was cut short (no
  // [DONE]) or was broken earlier.
  Expected<nlohmann::json> finish();

  // True once any `data:` event was seen (a server that ignored "stream" answers with plain JSON).
  bool saw_events() const { return events_ > 0; }
  // When the first chunk carrying generated text arrived; nullopt if none did.
  std::optional<double> first_content_s() const { return first_content_s_; }
  // Mean gap between consecutive chunks carrying text, ms; 0 with fewer than two such chunks.
  double mean_gap_ms() const;
  int content_chunks() const { return content_chunks_; }

 private:
  struct Choice {
    std::string content;
    std::string reasoning;  // delta.reasoning_content (reasoning models), kept apart from content
    nlohmann::json finish_reason;  // null until a chunk names it
  };

  Status take_line(std::string_view line, double now_s);
  Status dispatch(double now_s);
  Status take_chunk(const nlohmann::json& chunk, double now_s);

  const bool chat_;
  std::string pending_;  // bytes after the last newline
  std::string data_;     // the current event's data lines, joined with '\n'
  bool has_data_ = false;
  bool done_ = false;
  std::optional<Error> error_;
  int events_ = 0;

  nlohmann::json id_, created_, model_, usage_, timings_, fingerprint_;
  std::map<int64_t, Choice> choices_;
  std::optional<double> first_content_s_;
  double last_content_s_ = 0;
  int content_chunks_ = 0;
};

}  // namespace batchwise
