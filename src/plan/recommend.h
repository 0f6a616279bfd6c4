// Recommendation: which batch (parallel sequences) and context to run a workload with. For each batch
// size the KV cells the workload needs are sized (shared prefix counted once when the engine shares
// it), the memory model says whether it fits, the performance model how fast it goes.
//   max          the largest batch whose memory fits the device (llama.cpp caps a context at 256)
//   recommended  the knee of the throughput curve among batches that fit and meet the latency SLO
//   safe         the largest batch <= recommended that leaves 15% of device memory free
// A model that does not fit at batch 1 gives a Fit with fits = false, how short the device is, and
// what would fit instead (a smaller quantization, partial offload).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "hardware/device.h"
#include "model/model_spec.h"
#include "model/weights.h"
#include "plan/memory_model.h"
#include "plan/perf_model.h"
#include "plan/workload_shape.h"

namespace batchwise {

inline constexpr int64_t kLlamaCppMaxSequences = 256;
inline constexpr double kSafeMemoryFraction = 0.85;

struct RecommendInput {
  ModelSpec spec;
  WeightsSummary weights;
  Device device;
  WorkloadShape workload;
  ContextConfig base;                 // K/V types, ubatch, flash attention
  Calibration calibration;
  std::optional<double> max_latency_s;  // per request
  bool share_prefix = true;           // the engine shares the prefix's KV cells (batchwise run, llama-server -kvu)
  int64_t max_batch_cap = kLlamaCppMaxSequences;
};

struct BatchChoice {
  int64_t batch = 0;
  int64_t context_tokens = 0;         // total KV cells to allocate (-c)
  MemoryEstimate memory;
  BatchPoint perf;
};

struct Recommendation {
  bool fits = false;
  int64_t shortfall_bytes = 0;        // when !fits: device memory missing at batch 1
  std::vector<std::string> suggestions;  // when !fits: what would fit
  std::string limited_by;             // "memory", "latency SLO", "sequence cap", "throughput knee"
  BatchChoice max, recommended, safe;
  std::vector<BatchPoint> curve;      // powers of two up to max, and max itself
  size_t knee = 0;
  std::vector<size_t> pareto;
};

// The context config for `batch` requests of the workload (cells padded the way llama.cpp pads them).
ContextConfig context_for_batch(const RecommendInput& in, int64_t batch);

Recommendation recommend(const RecommendInput& in);

}  // namespace batchwise
