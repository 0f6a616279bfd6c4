// RAII owners for llama.cpp's C handles, and model loading with llama.cpp's logs routed to ours.
// Only engine .cpp files include this header (it pulls in llama.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "llama.h"

namespace batchwise {

struct ModelDeleter {
  void operator()(llama_model* m) const { llama_model_free(m); }
};
struct ContextDeleter {
  void operator()(llama_context* c) const { llama_free(c); }
};
struct SamplerDeleter {
  void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

// Initialises llama.cpp's backends once per process and sends its logs to ours (errors only,
// everything with --verbose).
void init_llama_backend();

// Where one copy of a model goes: where llama.cpp puts it by default (its layers split over every GPU), all
// of it on one GPU (split mode none), or all of it on the CPU.
struct ModelPlacement {
  enum class Kind { kDefault, kGpu, kCpu };
  Kind kind = Kind::kDefault;
  int gpu = 0;  // with kGpu: the index among the GPUs llama.cpp sees
};

// The parameters load_llama_model gives llama.cpp for this file: the layers placed as asked and, for a model with
// multi-head latent attention (DeepSeek-V2/V3) on a CPU whose llama.cpp uses AMX, no extra CPU buffers: with its
// matrices in the AMX buffer llama.cpp stops creating the context on a ggml scheduler assert.
llama_model_params llama_model_params_for(const std::filesystem::path& path, int n_gpu_layers,
                                          ModelPlacement placement = {});

// Loads a GGUF (memory-mapped); a missing or malformed file gives an error naming it.
Expected<ModelPtr> load_llama_model(const std::filesystem::path& path, int n_gpu_layers, ModelPlacement placement = {});

// The GPUs llama.cpp's backends see (0 in a build without CUDA).
int llama_gpu_count();

// The width of one attention head's keys or values (`key` is "key_length" or "value_length"), as llama.cpp reads it
// from the GGUF: the metadata, else the embedding width over the heads; 0 when unknown.
int64_t llama_head_size(const llama_model* model, const std::string& key);

// ggml's type by its name ("f16", "q8_0"); the CLI only offers the types llama.cpp's KV cache takes.
std::optional<ggml_type> llama_kv_type_named(const std::string& name);

}  // namespace batchwise
