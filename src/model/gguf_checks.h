// What llama.cpp asserts on (GGML_ASSERT aborts the process) when it loads a GGUF, checked first on
// our own header reader's result, so a hostile or damaged model file is an error line, never an
// abort: block_count in 1..512 (LLAMA_MAX_LAYERS) and matching the blk.N tensors present, tokenizer
// arrays of one length without duplicate tokens. Pure functions; thread-safe.
#pragma once

#include <filesystem>

#include "core/status.h"
#include "model/gguf_reader.h"

namespace batchwise {

// kCorrupt naming the key or tensor when llama.cpp would abort on (or mis-size) this header.
Status check_llama_loadable(const GgufHeader& header);

// Reads the header of `path` (bounds-checked) and checks it: what `run` calls before llama.cpp
// opens the file.
Status check_gguf_file_for_llama(const std::filesystem::path& path);

}  // namespace batchwise
