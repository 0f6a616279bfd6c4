#include "plan/run_layout.h"

#include <algorithm>
#include <cmath>

namespace batchwise {

int64_t effective_lanes(int64_t parallel, int64_t lanes) {
  return std::clamp<int64_t>(lanes, 1, std::max<int64_t>(1, parallel));
}

int64_t sequences_per_lane(const RunLayout& l) {
  const int64_t lanes = effective_lanes(l.parallel, l.lanes);
  return (std::max<int64_t>(1, l.parallel) + lanes - 1) / lanes;
}

std::vector<ContextConfig> lane_contexts(const ContextConfig& base, const RunLayout& l) {
  const int64_t parallel = std::max<int64_t>(1, l.parallel);
  const int64_t lanes = effective_lanes(parallel, l.lanes);
  // run clamps the slots so the fullest lane stays within llama.cpp's 256 sequence ids.
  const int64_t slots = std::clamp<int64_t>(l.prefix_slots, 0, kLlamaCppSequenceIds - sequences_per_lane(l));
  std::vector<ContextConfig> out;
  for (int64_t i = 0; i < lanes; ++i) {
    ContextConfig c = base;
    c.n_ctx_tokens = std::max<int64_t>(1, l.ctx_tokens / lanes);
    c.n_seq = parallel / lanes + (i < parallel % lanes ? 1 : 0) + slots;
    out.push_back(c);
  }
  return out;
}

int64_t run_ctx_tokens(const WorkloadShape& w, int64_t parallel, int64_t lanes, bool share_prefix, double slack) {
  const RunLayout l{parallel, 0, lanes};
  const int64_t n = effective_lanes(parallel, lanes);
  const int64_t per_lane = sequences_per_lane(l);
  int64_t lane_cells = 0;
  if (share_prefix) {
    lane_cells = padded_context(static_cast<int64_t>(std::ceil(static_cast<double>(w.kv_cells_for_batch(per_lane, true)) * slack)));
  } else {
    // One stream per sequence: each holds a whole request.
    lane_cells = per_lane * padded_context(static_cast<int64_t>(std::ceil(static_cast<double>(w.request_context_tokens()) * slack)));
  }
  return n * lane_cells;
}

MemoryEstimate estimate_run_memory(const ModelSpec& spec, const WeightsSummary& weights, const ContextConfig& base,
                                   const RunLayout& layout, bool on_gpu) {
  const std::vector<ContextConfig> lanes = lane_contexts(base, layout);
  MemoryEstimate total = estimate_memory(spec, weights, lanes.front(), on_gpu);
  for (size_t i = 1; i < lanes.size(); ++i) {
    const MemoryEstimate m = estimate_memory(spec, weights, lanes[i], on_gpu);
    for (auto [sum, part] : {std::pair{&total.device, &m.device}, std::pair{&total.host, &m.host}}) {
      sum->kv_cache_bytes += part->kv_cache_bytes;
      sum->compute_bytes += part->compute_bytes;
      sum->output_bytes += part->output_bytes;
    }
  }
  return total;
}

}  // namespace batchwise
