// Recommendation: which batch (parallel sequences), lanes and context to run a workload with. For each
// batch size the KV cells the workload needs are sized as `batchwise run` lays them out (run_layout.h:
// each lane holds the shared prefix once, when the engine shares it), the memory model says whether it
// fits, the performance model how fast it goes. Lanes: the user's --lanes, else 1 on the CPU (lanes only
// share its cores) and on a GPU the count the speed model finds fastest for each batch (at most
// kMaxPlannedLanes; one lane holds at most kRunSequencesPerLane sequences).
//   max          the largest batch whose memory fits the device (252 sequences a lane)
//   recommended  the knee of the throughput curve among batches that fit and meet the latency SLO
//   safe         the largest batch <= recommended that leaves 15% of device memory free; when even
//                batch 1 does not, safe is batch 1 with safe_meets_headroom = false (said, not hidden)
//   asked        the batch (-np) and context (-c) the user named, evaluated exactly as given
//   per request  the longest context one request may have at batch 1 (max), at the recommended batch,
//                and at the safe batch within the 15% headroom (the seed's max/recommended/safe context)
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
#include "plan/run_layout.h"
#include "plan/workload_shape.h"

namespace batchwise {

inline constexpr int64_t kLlamaCppMaxSequences = kLlamaCppSequenceIds;
inline constexpr int64_t kMaxPlannedLanes = 8;  // the most lanes measured (bench/results, 2026-12-04)
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
  int64_t max_batch_cap = kRunSequencesPerLane;  // per lane
  std::optional<int64_t> lanes;       // --lanes; unset: 1 on the CPU, the fastest on a GPU
  int64_t prefix_slots = kRunPrefixSlots;  // run's sequences kept for shared prefixes (per lane)
  // Layer split over gpu_count identical GPUs: `device` is their combined memory (see combine_gpus),
  // `one_gpu` one of them (what DOES-NOT-FIT's --gpus N suggestion counts in).
  int64_t gpu_count = 1;
  Device one_gpu;
  // The settings the user named (plan -np K -c N): evaluated as given, besides the recommendation.
  std::optional<int64_t> asked_batch;
  std::optional<int64_t> asked_context_tokens;
};

struct BatchChoice {
  int64_t batch = 0;                  // sequences over all lanes (-np)
  int64_t lanes = 1;                  // --lanes
  int64_t context_tokens = 0;         // total KV cells to allocate over all lanes (-c)
  MemoryEstimate memory;
  BatchPoint perf;
};

// The user's own -np/-c: whether they fit, and by how much.
struct AskedSettings {
  BatchChoice choice;
  bool fits = false;
  bool meets_headroom = false;        // leaves kSafeMemoryFraction's 15% free
  int64_t free_bytes = 0;             // device memory left (negative: short by)
  int64_t requests_held = 0;          // the workload's requests the -c cells hold at once
  int64_t ctx_for_one_each = 0;       // when they hold none: the -c that holds one request in each lane
};

// Longest context per request, tokens (0: none fits).
struct RequestContext {
  int64_t max_tokens = 0;             // batch 1, all memory
  int64_t recommended_tokens = 0;     // the recommended batch, all memory
  int64_t safe_tokens = 0;            // the safe batch, 15% left free
};

struct Recommendation {
  bool fits = false;
  int64_t shortfall_bytes = 0;        // when !fits: device memory missing at batch 1
  std::vector<std::string> suggestions;  // when !fits: what would fit
  std::string limited_by;             // "memory", "latency SLO", "sequence cap", "throughput knee"
  BatchChoice max, recommended, safe;
  bool safe_meets_headroom = true;    // false: even batch 1 uses more than kSafeMemoryFraction
  std::optional<AskedSettings> asked;
  RequestContext per_request;
  std::vector<BatchPoint> curve;      // powers of two up to max, and max itself
  size_t knee = 0;
  std::vector<size_t> pareto;
};

// llama.cpp refuses a K (V) cache type whose block size does not divide the K (V) head size (a
// 16-wide head cannot hold q8_0's 32-value blocks): the error names the sizes and what to use.
Status check_kv_types(const ModelSpec& spec, const WeightType& k_type, const WeightType& v_type);

// The context config for `batch` requests of the workload in one context (cells padded the way
// llama.cpp pads them): what one lane holding them all would be.
ContextConfig context_for_batch(const RecommendInput& in, int64_t batch);

// How run lays `batch` requests of the workload out over `lanes` (cells with 5% slack).
RunLayout layout_for(const RecommendInput& in, int64_t batch, int64_t lanes);

// The plan's figures for one layout (memory summed over its lanes, speed with its lanes).
BatchChoice evaluate_layout(const RecommendInput& in, const RunLayout& layout);

// `batch` requests with the lanes the plan would give them (the user's, or the fastest that fits).
BatchChoice evaluate_batch(const RecommendInput& in, int64_t batch);

Recommendation recommend(const RecommendInput& in);

// `n` GPUs like `one` with layers split: weights and KV add up, but every device holds its own
// compute buffer and runtime (each step still runs the layers one device after another).
Device combine_gpus(const RecommendInput& in, const Device& one, int64_t n);

}  // namespace batchwise
