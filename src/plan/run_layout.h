// RunLayout: how `batchwise run` lays one setting (-np sequences, -c cells, --lanes L) out over
// llama.cpp contexts (src/engine/llama/llama_engine.cpp), so that plan sizes what run allocates:
//   - L contexts ("lanes") over the one model: weights and the GPU runtime once;
//   - each lane gets c/L KV cells (llama.cpp pads them to 256) and evaluates and holds the shared
//     prefix once (lanes do not share cells);
//   - lane i gets np/L sequences (the first np%L lanes one more) plus run's prefix slots (4, fewer
//     where the lane would pass 256), which llama.cpp counts as sequences (the logits buffer);
//   - each lane reserves its own compute buffer (and, on a GPU, its own host input buffer).
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "plan/memory_model.h"
#include "plan/workload_shape.h"

namespace batchwise {

inline constexpr int64_t kLlamaCppSequenceIds = 256;  // one context's sequence ids
inline constexpr int64_t kRunPrefixSlots = 4;         // run's default --prefix-slots
inline constexpr int64_t kRunSequencesPerLane = kLlamaCppSequenceIds - kRunPrefixSlots;  // 252

struct RunLayout {
  int64_t parallel = 1;      // -np: sequences over all lanes
  int64_t ctx_tokens = 0;    // -c: KV cells over all lanes
  int64_t lanes = 1;         // --lanes (clamped to [1, parallel] as run clamps it)
  int64_t prefix_slots = kRunPrefixSlots;
};

// The lanes run actually makes for `lanes` asked and `parallel` sequences.
int64_t effective_lanes(int64_t parallel, int64_t lanes);

// Sequences run decodes in its fullest lane: ceil(parallel / lanes).
int64_t sequences_per_lane(const RunLayout& layout);

// The llama.cpp context of each lane: `base`'s types, ubatch and flash attention, the lane's cells and
// its sequences (prefix slots included).
std::vector<ContextConfig> lane_contexts(const ContextConfig& base, const RunLayout& layout);

// KV cells run needs for `parallel` requests of the workload over `lanes` (each lane holds the shared
// prefix once), with `slack` for tokenizer variance, each lane padded to 256: the -c to give run.
int64_t run_ctx_tokens(const WorkloadShape& w, int64_t parallel, int64_t lanes, bool share_prefix, double slack = 1.05);

// Memory of the whole layout: the sum over its lanes of KV cache, compute buffers and logits, the
// weights and GPU runtime once. `kv` is the fullest lane's.
MemoryEstimate estimate_run_memory(const ModelSpec& spec, const WeightsSummary& weights, const ContextConfig& base,
                                   const RunLayout& layout, bool on_gpu);

}  // namespace batchwise
