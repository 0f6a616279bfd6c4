// MemoryModel: how many bytes a model needs on each device for a given context, batch and KV type,
// following llama.cpp's allocation rules (llama-context.cpp, llama-kv-cache*.cpp):
//   weights   the GGUF's tensor bytes (exact) or the file type's per-tensor estimate; with every
//             layer offloaded the token embedding stays in host memory; on the CPU the matrices the
//             backend repacks (AMX, CPU_REPACK) as it lays them out
//   KV cache  per layer and cell: K row (n_head_kv x head_dim, or kv_lora_rank + rope dims under MLA)
//             plus V row (none under MLA), at the K/V type's block size; cells = n_ctx padded to 256;
//             SWA layers keep min(cells, window x streams + ubatch) cells, padded to 256
//   compute   the scheduler's worst-case graph at n_ubatch tokens: logits (vocab x tokens, f32),
//             per-layer activations, the attention scores/mask (see compute_buffer_bytes); on a
//             GPU also a host buffer for the graph's inputs (host_compute_buffer_bytes)
//   overhead  CUDA context, cuBLAS workspace and allocator slack on a GPU; none on the CPU
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "model/model_spec.h"
#include "model/weight_types.h"
#include "model/weights.h"

namespace batchwise {

// The llama.cpp context settings the memory depends on.
struct ContextConfig {
  int64_t n_ctx_tokens = 4096;      // total KV cells requested (all sequences together)
  int64_t n_seq = 1;                // parallel sequences
  int64_t n_batch_tokens = 2048;    // logical batch
  int64_t n_ubatch_tokens = 512;    // physical batch: sizes the compute buffer
  bool flash_attention = true;
  bool kv_unified = true;           // one KV stream shared by all sequences (prefix sharing needs it)
  bool swa_full = false;            // SWA layers keep the whole context (llama.cpp's --swa-full)
  bool sparse_attention = true;     // run's --attention cascade or sparse (planned alike; applies on a GPU, see PerfModel)
  bool cpu_amx = false;             // on the CPU, llama.cpp keeps matrices in AMX buffers (model/amx_packing.h)
  WeightType k_type{"f16", 1, 1, 2};
  WeightType v_type{"f16", 1, 1, 2};
};

struct KvCacheEstimate {
  int64_t cells_full = 0;           // per stream, full-attention layers
  int64_t cells_swa = 0;            // per stream, sliding-window layers
  int64_t streams = 1;
  int64_t bytes_per_token = 0;      // K+V bytes one token adds over all full-attention layers
  int64_t swa_bytes_per_token = 0;  // the same for SWA layers (bounded by the window)
  int64_t full_layers_bytes = 0;
  int64_t swa_layers_bytes = 0;
  int64_t total_bytes() const { return full_layers_bytes + swa_layers_bytes; }
};

// The context size llama.cpp actually allocates for a request (padded to 256).
int64_t padded_context(int64_t n_ctx_tokens);

// K+V bytes of one token in one layer (MLA: compressed KV + rope part, no V).
int64_t kv_bytes_per_token_per_layer(const ModelSpec& spec, const WeightType& k_type, const WeightType& v_type);

KvCacheEstimate estimate_kv_cache(const ModelSpec& spec, const ContextConfig& ctx);

// The compute (activation) buffer llama.cpp reserves for the worst-case ubatch graph: on the CPU
// backend, or (`on_gpu`) in GPU memory with every layer offloaded. They differ: on a GPU the
// attention masks are copied in and stay alive through the layers, and the output stage keeps less.
int64_t compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx, bool on_gpu);

// With every layer on a GPU, the compute buffer llama.cpp keeps in host memory: the graph's inputs
// (token embeddings looked up on the CPU, the attention masks, positions and indices).
int64_t host_compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx);

// Fixed cost of using a GPU beyond what llama.cpp reports: CUDA context and kernels, cuBLAS
// workspace, allocator fragmentation. Measured on an H200 (NVML's per-process peak less llama.cpp's
// GPU buffers, 8B F16 at 64 and 252 sequences): 724 and 752 MiB; other GPUs and drivers differ.
inline constexpr int64_t kGpuRuntimeOverheadBytes = int64_t{740} << 20;

struct DeviceMemory {
  int64_t weights_bytes = 0;
  int64_t kv_cache_bytes = 0;
  int64_t compute_bytes = 0;
  int64_t overhead_bytes = 0;
  int64_t output_bytes = 0;  // llama.cpp's output buffer (the logits of each sequence): host memory
  int64_t total_bytes() const { return weights_bytes + kv_cache_bytes + compute_bytes + overhead_bytes + output_bytes; }
};

struct MemoryEstimate {
  DeviceMemory device;   // the GPU (or the CPU when there is no GPU)
  DeviceMemory host;     // host RAM besides the device: token embedding, host compute buffer, logits
  KvCacheEstimate kv;
  bool on_gpu = false;
};

// Memory for running `spec` with weights `weights` under `ctx`, all layers on one device (`on_gpu`)
// or all on the CPU.
MemoryEstimate estimate_memory(const ModelSpec& spec, const WeightsSummary& weights, const ContextConfig& ctx,
                               bool on_gpu);

}  // namespace batchwise
