// PerfModel: predicted speed from a roofline. A decode step at batch B reads the weights once (for
// MoE only the experts the B tokens route to) plus every sequence's KV cache, and does 2 FLOP per
// active weight per token plus attention; it takes max(bytes / bandwidth, FLOPs / peak) scaled by
// calibration factors, plus a fixed per-step cost. Prefill is compute-bound. From the step times:
// tokens/s and latency per batch size, the knee (the smallest batch within 10% of the best
// throughput) and the Pareto set (batches no other beats on both throughput and latency).
// Calibration defaults come from llama.cpp measurements (DESIGN.md); `tune` may replace them.
#pragma once

#include <cstdint>
#include <vector>

#include "hardware/device.h"
#include "model/model_spec.h"
#include "model/weights.h"
#include "plan/memory_model.h"
#include "plan/workload_shape.h"

namespace batchwise {

struct Calibration {
  double bandwidth_efficiency = 0.70;      // achieved / peak memory bandwidth in decode
  double compute_efficiency = 0.45;        // achieved / peak dense FLOP/s for f16 weights
  double quantized_compute_efficiency = 0.25;  // the same with quantized weights (dequantizing GEMMs are slower)
  double step_overhead_s = 0.0004;         // per decode step: launches, sampling, scheduling
  bool prefix_attention_once = false;      // engine reads a shared prefix's KV once per step (cascade attention)
};

struct StepCost {
  double seconds = 0;
  double bytes = 0;
  double flops = 0;
  bool compute_bound = false;
};

struct BatchPoint {
  int64_t batch = 0;
  double step_s = 0;                 // one decode step for all B sequences
  double decode_tokens_per_s = 0;    // output tokens per second over the whole job
  double requests_per_s = 0;
  double request_latency_s = 0;      // prefill + all decode steps of one request at this batch
  bool compute_bound = false;
  bool fits_memory = true;
  int64_t device_memory_bytes = 0;
};

class PerfModel {
 public:
  PerfModel(const ModelSpec& spec, const WeightsSummary& weights, const Device& device, const ContextConfig& ctx,
            const Calibration& calibration);

  // One decode step for `batch` sequences, each with `context_tokens` in its KV cache, of which
  // `shared_tokens` are a prefix common to all.
  StepCost decode_step(int64_t batch, int64_t context_tokens, int64_t shared_tokens = 0) const;
  // Prefill of `sequences` requests of `tokens_per_sequence` new tokens each, all attending to
  // `past_tokens` already cached (a shared prefix) and to their own tokens.
  StepCost prefill(int64_t sequences, int64_t tokens_per_sequence, int64_t past_tokens) const;
  // The workload run with `batch` requests in flight (continuous batching, steady state).
  BatchPoint at_batch(int64_t batch, const WorkloadShape& workload) const;

 private:
  double active_weight_bytes(int64_t batch) const;
  double flops_per_token(int64_t context_tokens) const;
  double peak_flops() const;

  ModelSpec spec_;
  WeightsSummary weights_;
  Device device_;
  ContextConfig ctx_;
  Calibration cal_;
  bool quantized_ = false;
};

// Index of the knee in `points` (sorted by batch): the smallest batch within 10% of the best throughput.
size_t knee_index(const std::vector<BatchPoint>& points);
// Indices of the Pareto-optimal points: no other point has both higher throughput and lower latency.
std::vector<size_t> pareto_indices(const std::vector<BatchPoint>& points);

}  // namespace batchwise
