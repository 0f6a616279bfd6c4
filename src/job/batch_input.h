// BatchInput: one pass over an OpenAI Batch JSONL file. Each line is checked (JSON, custom_id,
// method, url, body) and remembered by byte offset, not content, so a 1.4 GB input costs a few
// bytes per line of memory. Bodies are read again from the file when a request is dispatched.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace batchwise {

// Lines longer than this are refused (their error names the limit) instead of being parsed.
inline constexpr size_t kMaxLineBytes = 64u << 20;

struct InputLine {
  int64_t line = 0;        // 1-based line number in the file
  uint64_t offset = 0;     // byte offset of the line
  uint32_t length = 0;     // bytes, without the newline
  int32_t priority = 0;    // extension field `priority`: higher runs first
  uint64_t prefix_key = 0; // hash of the prompt's first characters: equal keys share a prefix
  ApiKind kind = ApiKind::kChatCompletions;
  std::string custom_id;
};

struct LineError {
  int64_t line = 0;
  std::string custom_id;   // empty when the line had none
  std::string message;     // "line 17: field `custom_id` missing"
};

struct BatchInput {
  std::vector<InputLine> requests;  // valid lines, in file order
  std::vector<LineError> errors;    // invalid lines, in file order
  int64_t total_lines = 0;          // non-blank lines
};

// Reads and checks every line. Fails only when the file cannot be read at all.
Expected<BatchInput> scan_batch_input(const std::filesystem::path& path);

// Reads one valid line again and turns it into an engine request (key = line number).
class BatchReader {
 public:
  static Expected<BatchReader> open(const std::filesystem::path& path);
  BatchReader(BatchReader&&) noexcept;
  BatchReader& operator=(BatchReader&&) noexcept;
  ~BatchReader();

  Expected<EngineRequest> read(const InputLine& line) const;

 private:
  explicit BatchReader(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace batchwise
