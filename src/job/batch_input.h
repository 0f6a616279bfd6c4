// BatchInput: one pass over an OpenAI Batch JSONL file. Each line is checked (JSON, custom_id,
// method, url, body) once (LineScan) and remembered by byte offset, not content, with what dispatch
// needs (where its body's bytes lie, its priority and prefix key), so a 1 GB input costs a few dozen
// bytes per line of memory and no line is parsed twice. The file's hash is taken on the same pass.
// When a request is dispatched its body's bytes are read again from the file and sent as they are.
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
  uint32_t body_offset = 0;  // the `body` value's bytes, from the line's start
  uint32_t body_length = 0;
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
  std::string input_hash;           // of the whole file (core/files.h's hash_file, taken while reading)
};

// Reads and checks every line. Fails only when the file cannot be read at all.
Expected<BatchInput> scan_batch_input(const std::filesystem::path& path);

// Reads one valid line again and turns it into an engine request (key = line number). Lines asked for in
// file order are served from one read of the next 256 KiB (a syscall per request was 5% of `run --endpoint`'s
// CPU); a line elsewhere is read alone. One thread at a time.
class BatchReader {
 public:
  static Expected<BatchReader> open(const std::filesystem::path& path);
  BatchReader(BatchReader&&) noexcept;
  BatchReader& operator=(BatchReader&&) noexcept;
  ~BatchReader();

  // The request with its body parsed (`body`), for callers that look into it.
  Expected<EngineRequest> read(const InputLine& line);
  // The request with its body as the input's bytes (`body_text`; `body` stays null): what dispatch sends.
  Expected<EngineRequest> read_body(const InputLine& line);

 private:
  BatchReader(int fd, uint64_t file_size) : fd_(fd), file_size_(file_size) {}
  // `length` bytes at `offset` into `out`, from the window where they are in it.
  Status read_at(std::string& out, uint64_t offset, size_t length, int64_t line);
  int fd_ = -1;
  std::string window_;          // bytes of the file from window_offset_ on
  uint64_t window_offset_ = 0;
  uint64_t last_end_ = 0;       // where the last read ended: the next one near it reads ahead
  uint64_t file_size_ = 0;      // at open: a read-ahead stops there (a small file gets a small window)
};

}  // namespace batchwise
