// Writes a GGUF with a model's exact metadata, tokenizer and tensor infos whose data is a hole (a
// sparse file): llama.cpp loads it with no_alloc (a dry run that reports what it would allocate),
// so memory predictions can be checked against llama.cpp for 8B-size shapes in milliseconds and
// without disk space. Covers the architectures of model/tensor_layout.h.
#pragma once

#include <filesystem>
#include <string>

#include "model/model_spec.h"
#include "model/weight_types.h"

namespace batchwise::test {

// Uses llama.cpp's models/ggml-vocab-<vocab>.gguf; spec.vocab_size must equal its token count
// (vocab_tokens() tells). Returns an empty string on success, else what went wrong.
std::string write_sparse_gguf(const ModelSpec& spec, FileType type, const std::filesystem::path& path);

// Token count of a vocab file of llama.cpp's models/ folder ("llama-bpe": 128256).
int64_t vocab_tokens(const std::string& vocab);

}  // namespace batchwise::test
