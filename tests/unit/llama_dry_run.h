// What llama.cpp itself says a model and context would allocate: a dry run (model and context
// with no_alloc, nothing mapped or allocated) read through llama_get_memory_breakdown, split into
// device buffers (a GPU's own memory) and host buffers (CPU memory, pinned CUDA_Host included).
// Shared by the plan accuracy tests (CPU backend, and a GPU backend where one is present).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/llama/llama_handles.h"
#include "llama-ext.h"  // llama_get_memory_breakdown
#include "model/amx_packing.h"
#include "llama.h"
#include "model/model_spec.h"
#include "plan/memory_model.h"
#include "sparse_gguf.h"
#include "test_support.h"

namespace batchwise::test {

struct LlamaBuffers {
  int64_t model = 0, context = 0, compute = 0;
  int64_t total() const { return model + context + compute; }
};

struct LlamaBufferType {
  std::string name;  // ggml's buffer type name: "CPU", "CUDA0", "CUDA_Host", ...
  bool host = true;
  LlamaBuffers bytes;
};

struct LlamaMemory {
  LlamaBuffers device;                 // buffers in a GPU's memory
  LlamaBuffers host;                   // buffers in host memory
  std::vector<LlamaBufferType> types;  // as llama.cpp reports them
  LlamaBuffers all() const {
    return {device.model + host.model, device.context + host.context, device.compute + host.compute};
  }
};

inline ContextConfig llama_test_config(int64_t n_ctx, int64_t n_seq, int64_t ubatch, bool fa, const char* kv = "f16",
                                       bool unified = true) {
  ContextConfig c;
  c.n_ctx_tokens = n_ctx;
  c.n_seq = n_seq;
  c.n_batch_tokens = std::max<int64_t>(2048, ubatch);
  c.n_ubatch_tokens = ubatch;
  c.flash_attention = fa;
  c.kv_unified = unified;
  c.k_type = *parse_weight_type(kv);
  c.v_type = *parse_weight_type(kv);
  c.cpu_amx = llama_cpu_uses_amx();  // as plan sets it for this host's CPU (for a model AMX holds: amx_holds_model)
  return c;
}

inline bool llama_has_gpu_device() {
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    if (ggml_backend_dev_type(ggml_backend_dev_get(i)) == GGML_BACKEND_DEVICE_TYPE_GPU) return true;
  }
  return false;
}

inline void llama_quiet_log(ggml_log_level, const char*, void*) {}

inline llama_context_params llama_context_params_for(const ContextConfig& c) {
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(c.n_ctx_tokens);
  cp.n_seq_max = static_cast<uint32_t>(c.n_seq);
  cp.n_batch = static_cast<uint32_t>(c.n_batch_tokens);
  cp.n_ubatch = static_cast<uint32_t>(c.n_ubatch_tokens);
  cp.flash_attn_type = c.flash_attention ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.type_k = static_cast<ggml_type>(c.k_type.ggml_id);
  cp.type_v = static_cast<ggml_type>(c.v_type.ggml_id);
  cp.kv_unified = c.kv_unified;
  cp.swa_full = c.swa_full;
  cp.n_threads = cp.n_threads_batch = 2;
  return cp;
}

// Loads `path` once and creates one context per entry of `lanes` over it (as `batchwise run --lanes`
// does), every layer on the GPU when `offload`, dry (`dry_run`) or for real. The model's buffers are
// counted once, each context's KV cache and compute buffers added up.
inline LlamaMemory llama_memory(const std::filesystem::path& path, const std::vector<ContextConfig>& lanes, bool dry_run,
                                bool offload = false) {
  llama_log_set(llama_quiet_log, nullptr);
  // As `run` loads it (llama_model_params_for: the CPU's extra buffers as batchwise uses them).
  llama_model_params mp = llama_model_params_for(path, offload ? 999 : 0);
  mp.no_alloc = dry_run;
  if (dry_run) mp.load_mode = LLAMA_LOAD_MODE_NONE;  // a dry run maps nothing
  llama_model* model = llama_model_load_from_file(path.c_str(), mp);
  EXPECT_NE(model, nullptr) << path;
  LlamaMemory m;
  if (!model) return m;
  std::vector<llama_context*> contexts;
  for (const ContextConfig& c : lanes) {
    llama_context* ctx = llama_init_from_model(model, llama_context_params_for(c));
    EXPECT_NE(ctx, nullptr) << path;
    if (!ctx) continue;
    const bool first = contexts.empty();
    contexts.push_back(ctx);
    for (const auto& [buft, b] : llama_get_memory_breakdown(ctx)) {
      LlamaBufferType t{ggml_backend_buft_name(buft), ggml_backend_buft_is_host(buft),
                        {first ? static_cast<int64_t>(b.model) : 0, static_cast<int64_t>(b.context), static_cast<int64_t>(b.compute)}};
      LlamaBuffers& side = t.host ? m.host : m.device;
      side.model += t.bytes.model;
      side.context += t.bytes.context;
      side.compute += t.bytes.compute;
      m.types.push_back(std::move(t));
    }
  }
  for (llama_context* ctx : contexts) llama_free(ctx);
  llama_model_free(model);
  return m;
}

inline LlamaMemory llama_memory(const std::filesystem::path& path, const ContextConfig& c, bool dry_run,
                                bool offload = false) {
  return llama_memory(path, std::vector<ContextConfig>{c}, dry_run, offload);
}

// The sparse GGUF of a preset at a quantization, written once per test run.
class SparseModels {
 public:
  Expected<std::filesystem::path> get(const std::string& preset, FileType quant) {
    const auto path = dir_ / (preset + "-" + std::string(file_type_name(quant)) + ".gguf");
    if (std::filesystem::exists(path)) return path;
    BW_ASSIGN_OR_RETURN(ModelSpec spec, find_preset(preset));
    spec.vocab = spec.vocab == "gemma" ? "llama-bpe" : spec.vocab;  // llama.cpp ships no Gemma tokenizer
    spec.vocab_size = vocab_tokens(spec.vocab);
    if (const std::string e = write_sparse_gguf(spec, quant, path); !e.empty()) {
      return make_error(ErrorCode::kInvalidArgument, e);
    }
    return path;
  }
  ~SparseModels() { std::filesystem::remove_all(dir_); }

 private:
  std::filesystem::path dir_ = scratch_dir();
};

inline double error_percent(int64_t predicted, int64_t actual) {
  return actual ? 100.0 * static_cast<double>(predicted - actual) / static_cast<double>(actual) : 0.0;
}

}  // namespace batchwise::test
