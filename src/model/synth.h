// synth: writes a random-weight GGUF whose tensor shapes, metadata and tokenizer are those of a real
// model, so its speed and memory can be measured without downloading it. Its text is meaningless.
// The tokenizer comes from llama.cpp's models/ggml-vocab-<vocab>.gguf. Tensors are generated and
// written one at a time (in row chunks, on all cores), so an 8B model needs little RAM.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/model_spec.h"

namespace batchwise {

enum class SynthQuant { kF16, kQ8_0, kQ4_0, kQ4_K_M };

// "f16", "q8_0", "q4_0", "q4_k_m" (case-insensitive).
Expected<SynthQuant> parse_synth_quant(std::string_view name);
std::string_view synth_quant_name(SynthQuant quant);

struct SynthOptions {
  ModelSpec spec;
  SynthQuant quant = SynthQuant::kF16;
  std::filesystem::path output;
  std::filesystem::path vocab_file;  // empty: find_vocab_file(spec.vocab)
  uint64_t seed = 42;
  int threads = 0;                   // 0: all cores
  // Called after each tensor with bytes written so far and the total, for progress lines.
  std::function<void(uint64_t done_bytes, uint64_t total_bytes)> on_progress;
};

struct SynthResult {
  int64_t parameter_count = 0;
  uint64_t file_bytes = 0;
  int64_t tensor_count = 0;
  int64_t vocab_tokens = 0;
};

// $BATCHWISE_VOCAB_DIR/ggml-vocab-<name>.gguf, else the pinned llama.cpp source's models/ folder.
Expected<std::filesystem::path> find_vocab_file(std::string_view vocab_name);

// Writes the model to options.output (through a temporary file renamed at the end).
Expected<SynthResult> synth_model(const SynthOptions& options);

// The cached tiny model that `run` uses when no --model is given: made once, then reused.
Expected<std::filesystem::path> default_tiny_model();

}  // namespace batchwise
