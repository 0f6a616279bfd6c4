// A GGUF header reader of our own, for hostile files: it reads the magic, the key/value metadata and
// the tensor infos, never the tensor data. Every count, length, type id and offset is checked against
// the file's size before anything is allocated or read, so a truncated or crafted file gives a
// kCorrupt Error (with the byte offset), never a crash or a huge allocation. String arrays (the
// tokenizer's vocabulary) are skipped, only their length is kept; numeric arrays up to 65,536
// elements are kept (per-layer head counts, SWA patterns).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"

namespace batchwise {

// One metadata value. Integers widen to int64 (a uint64 above INT64_MAX is stored as such), floats to
// double. An array keeps its element count and, when numeric and small, its values.
struct GgufValue {
  enum class Kind { kInt, kFloat, kBool, kString, kArray };
  Kind kind = Kind::kInt;
  int64_t int_value = 0;
  double float_value = 0.0;
  bool bool_value = false;
  std::string string_value;
  uint64_t array_count = 0;
  std::vector<double> array_numbers;  // empty for string arrays and arrays over the kept size
  bool duplicate_strings = false;     // a string array holds some string twice
};

struct GgufTensorInfo {
  std::string name;
  int type_id = 0;              // ggml type id (weight_type_by_id)
  std::vector<int64_t> dims;    // ne0 (row length) first
  uint64_t offset_bytes = 0;    // from the start of the data section
  int64_t bytes = 0;            // stored size: elements / block_weights * block_bytes
  int64_t elements() const;
};

struct GgufHeader {
  uint32_t version = 0;
  uint64_t file_bytes = 0;
  uint64_t data_offset_bytes = 0;  // where tensor data starts (aligned)
  uint64_t alignment_bytes = 32;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;

  int64_t tensor_bytes() const;                          // sum over tensors
  std::map<std::string, int64_t> bytes_by_type() const;  // type name ("q4_k") -> bytes

  const GgufValue* find(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;    // also the first element of a numeric array
  std::optional<double> get_float(const std::string& key) const;   // ints convert
  std::optional<std::string> get_string(const std::string& key) const;
};

struct GgufReadOptions {
  // Tensor data must lie inside the file. Off for header-only files written by tests and tools.
  bool check_data_bounds = true;
};

Expected<GgufHeader> read_gguf_header(const std::filesystem::path& path, const GgufReadOptions& options = {});

}  // namespace batchwise
