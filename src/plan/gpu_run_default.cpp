#include "plan/gpu_run_default.h"

namespace batchwise {

std::optional<GpuRunDefault> gpu_run_default(const ModelSpec& spec, const WeightsSummary& weights,
                                             const ContextConfig& base, int64_t free_bytes) {
  ContextConfig ctx = base;
  ctx.n_batch_tokens = kGpuDefaultBatchTokens;
  ctx.n_ubatch_tokens = kGpuDefaultUbatchTokens;
  const auto budget = static_cast<int64_t>(kGpuDefaultMemoryFraction * static_cast<double>(free_bytes));
  for (int64_t lanes = kGpuDefaultLanes; lanes >= 1; lanes /= 2) {
    for (const GpuLaneShape& lane : kGpuDefaultLaneShapes) {
      const RunLayout layout{lanes * lane.sequences, lanes * lane.cells, lanes};
      const int64_t need = estimate_run_memory(spec, weights, ctx, layout, /*on_gpu=*/true).device.total_bytes();
      if (need <= budget) return GpuRunDefault{layout, ctx.n_batch_tokens, ctx.n_ubatch_tokens, need};
    }
  }
  return std::nullopt;
}

}  // namespace batchwise
