// GpuRunDefault: what `batchwise run` uses on a GPU when the user names neither --parallel, --lanes nor
// --ctx-size and `batchwise tune` has measured nothing for this machine. Measured on an H100 (Llama-3.1-8B
// shape, seed workload, sparse attention and patch 0003; bench/results/README.md, 2026-12-07): 4 lanes of 252
// sequences (a context's most) 255.5 req/s, 4 lanes of 128 222.7, 8 of 126 219.2. A lane's step then holds
// ~640 tokens instead of ~330, and the matrix products, which read every weight once a step, pay that read over
// twice the tokens; more lanes overlap one lane's host work with another's GPU work.
// The KV cells a lane holds count too: the same 4 x 252 ran 239.7 req/s with 32,768 cells a lane (another H100 of
// the same kind), the host's attention mask growing with the cells in use. So: 4 lanes of 252 sequences and
// 28,672 cells each (a 2,000-token shared prompt and 252 requests of ~100 tokens, a little room), shrunk until the
// plan's memory fits `kGpuDefaultMemoryFraction` of the free GPU memory: smaller lanes first (`kGpuDefaultLaneShapes`,
// down to 32 sequences in 4,096 cells), then fewer lanes. Pure: thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "model/model_spec.h"
#include "model/weights.h"
#include "plan/memory_model.h"
#include "plan/run_layout.h"

namespace batchwise {

inline constexpr int64_t kGpuDefaultLanes = 4;

struct GpuLaneShape {
  int64_t sequences;
  int64_t cells;
};
// Largest first: 252 in 28,672 measured best, 128 in 16,384 the one before it; below, half of each.
inline constexpr GpuLaneShape kGpuDefaultLaneShapes[] = {
    {kRunSequencesPerLane, 28672}, {128, 16384}, {64, 8192}, {32, 4096}};

inline constexpr double kGpuDefaultMemoryFraction = 0.85;
inline constexpr int64_t kGpuDefaultBatchTokens = 4096;   // -b, as measured
inline constexpr int64_t kGpuDefaultUbatchTokens = 1024;  // -ub, as measured

struct GpuRunDefault {
  RunLayout layout;             // -np, -c, --lanes
  int64_t batch_tokens = 0;     // -b
  int64_t ubatch_tokens = 0;    // -ub
  int64_t memory_bytes = 0;     // the plan's GPU memory for it
};

// The default for a model with `weights` on a GPU with `free_bytes` free; nullopt when even one lane of the
// smallest shape does not fit (run then keeps its plain defaults and llama.cpp says why).
// `base` carries the K/V types and flash attention the user chose.
std::optional<GpuRunDefault> gpu_run_default(const ModelSpec& spec, const WeightsSummary& weights,
                                             const ContextConfig& base, int64_t free_bytes);

}  // namespace batchwise
