// PerfModel: predicted speed from a roofline plus the host's share of each step. A decode step of one
// lane (one llama.cpp context) at B sequences has two parts:
//   device  reads the weights once (for MoE only the experts the B tokens route to) plus every
//           sequence's KV cache, and does 2 FLOP per active weight per token plus attention:
//           max(bytes / bandwidth, FLOPs / peak), scaled by calibration factors. On a GPU the parts run as
//           kernels one after another: the products' roofline, then attention's (at the efficiency its
//           kernels measured), then the layers' small kernels (norms, element-wise ops). With a unified KV
//           cache a GPU's dense attention scores every token over every cell in use in the lane (masked);
//           its sparse attention (run's default) over what a tile of 8 queries sees, the shared prefix
//           read once a step;
//   host    a fixed cost (graph, launches), a cost per sequence (its row of logits copied and a
//           token chosen: proportional to the vocabulary) and the attention mask llama.cpp builds on
//           the host each step (tokens x cells in use in the lane).
// On the CPU both parts take the same cores: a step is their sum, and lanes only share the cores. On a
// GPU a lane's host part overlaps other lanes' device parts: L lanes take about max(L x device, device + host)
// for one step each (a p-norm of the two: the overlap is imperfect where they are close). Prefill is
// compute-bound; on a GPU its tokens ride in decode steps. From the step times: tokens/s and latency per batch
// size and lanes, the knee (the smallest batch within 10% of the best throughput) and the Pareto set
// (batches no other beats on both throughput and latency). Calibration defaults come from llama.cpp
// measurements (docs/plan.md, "Performance"); `tune` scales them by what it measured.
#pragma once

#include <cstdint>
#include <vector>

#include "hardware/device.h"
#include "model/model_spec.h"
#include "model/weights.h"
#include "plan/memory_model.h"
#include "plan/workload_shape.h"

namespace batchwise {

// Raised when the model's shape changes, so that speed factors `tune` measured against the old one are not
// applied to the new (plan/measured_calibration.h). 2: sparse attention on a GPU (2026-12-07). 3: a GPU step's
// attention and small kernels priced apart from the products (2026-12-08). 4: quantized weights' math on a GPU at
// its own measured rate (2026-12-08).
inline constexpr int kPerfModelVersion = 4;

struct Calibration {
  double bandwidth_efficiency = 0.70;      // achieved / peak memory bandwidth in decode
  double compute_efficiency = 0.45;        // achieved / peak dense FLOP/s for f16 weights
  double quantized_compute_efficiency = 0.25;  // the same with quantized weights (a CPU without int8 dot products)
  // Host costs, fitted on this project's 2-core CPU (tiny model, docs/plan.md) and on an H200's host (8B); the
  // GPU's mask from run's own decode timings on an H100's host (8B seed, 2026-12-07: 0.62-0.71 ns a cell):
  double step_overhead_s = 0.001;          // per decode step on the CPU: graph, scheduling, thread sync
  double gpu_step_overhead_s = 0.0015;     // per decode step on a GPU, host: graph, scheduling, launches
  // Matmuls over few tokens run ggml's vector kernels (GEMV), over many its tiled GEMM: the compute
  // efficiency below 0.75 x `gemm_tokens` tokens a step is `gemv_compute_ratio` of the above, with a
  // log-linear ramp up to `gemm_tokens` (measured on the CPU: 48 -> 64 sequences +43% req/s).
  double gemv_compute_ratio = 0.6;
  double gemm_tokens = 64;
  double host_s_per_logit = 0.4e-9;        // per sequence per step, host: its logits copied and a token chosen
  double mask_s_per_cell = 5e-9;           // per token per KV cell in use in the lane: the host-built attention mask
  double gpu_mask_s_per_cell = 0.7e-9;     // the same on a GPU machine's host
  // A GPU step's kernels, fitted to ncu's timing of every kernel of one lane's decode step (H200, 8B F16, seed,
  // cascade, 128 and 252 sequences; bench/results/README.md, 2026-12-07). The matrix products over T tokens take a
  // fixed time plus a time per token: 8B's took 5.34 ms for 128 tokens and 7.25 for 252, i.e. the weights read at
  // 93% of the bandwidth, then 2 FLOP per weight per token at 98% of the f16 peak (a marginal rate: part of the math
  // hides under the read); never less than the weights read at bandwidth_efficiency.
  double gpu_products_bandwidth_efficiency = 0.93;
  double gpu_gemm_efficiency = 0.98;
  // Quantized weights' math on a GPU: llama.cpp's quantized matmuls (MMQ: int8 tiles of warp-level MMAs, the
  // weights unpacked on the fly). Where the tensor peak needs warpgroup MMAs (Hopper, datacenter Blackwell) they
  // reach 0.17 of the f16 peak: from llama-batched-bench's decode-only steps, F16 and Q4_K_M in the same call (their
  // difference is the products'; attention and the rest are the same), 0.14-0.17 on an H200, 0.19 on an H100
  // (bench/results, 2026-11-24 and -30), Q4_K_M only. Elsewhere (Ampere, Ada: the warp-level MMAs are the peak)
  // quantized_compute_efficiency / compute_efficiency of the f16 rate, not measured.
  double gpu_quantized_gemm_efficiency = 0.17;
  // llama.cpp's flash attention reaches a tenth of the f16 peak on the cells run's sparse and cascade attention
  // score (0.066 at 128 sequences, 0.104 at 252), and 0.18 on every cell of the lane with dense attention (an H100,
  // 128 sequences: denser work, no gathering).
  double gpu_attention_efficiency = 0.10;
  double gpu_dense_attention_efficiency = 0.18;
  // Each layer's norms, RoPE, element-wise ops, F32->F16 conversions and KV writes take a fixed time per step and a
  // time per token (2.73 ms a step at 128 tokens, 3.82 at 252, over 32 layers).
  double gpu_layer_kernels_s = 50e-6;
  double gpu_layer_kernels_s_per_token = 0.275e-6;
  // L lanes on a GPU take the p-norm of L x device and device + host a step (a perfect overlap would be their max):
  // p = 4 gives the GPU busy 94% of the time with 3 lanes of 252 seed sequences and 98% with 4, as an H100 measured.
  double lane_overlap_norm = 4;
  bool prefix_attention_once = false;      // engine reads a shared prefix's KV once per step (cascade attention)
};

struct StepCost {
  double seconds = 0;                // device + host (what one lane alone takes)
  double device_s = 0;
  double host_s = 0;
  double bytes = 0;
  double flops = 0;
  bool compute_bound = false;
};

struct BatchPoint {
  int64_t batch = 0;
  double step_s = 0;                 // one decode step for all B sequences (every lane's)
  double decode_tokens_per_s = 0;    // output tokens per second over the whole job
  double requests_per_s = 0;
  double request_latency_s = 0;      // prefill + all decode steps of one request at this batch
  bool compute_bound = false;
  bool fits_memory = true;
  int64_t device_memory_bytes = 0;
  int64_t lanes = 1;                 // the B sequences over this many lanes
};

class PerfModel {
 public:
  PerfModel(const ModelSpec& spec, const WeightsSummary& weights, const Device& device, const ContextConfig& ctx,
            const Calibration& calibration);

  // One decode step for `batch` sequences of one lane, each with `context_tokens` in its KV cache, of
  // which `shared_tokens` are a prefix common to all (held once in the lane's unified cache).
  StepCost decode_step(int64_t batch, int64_t context_tokens, int64_t shared_tokens = 0) const;
  // Prefill of `sequences` requests of `tokens_per_sequence` new tokens each, all attending to
  // `past_tokens` already cached (a shared prefix) and to their own tokens.
  StepCost prefill(int64_t sequences, int64_t tokens_per_sequence, int64_t past_tokens) const;
  // The workload run with `batch` requests in flight over `lanes` lanes (continuous batching, steady
  // state; each lane holds the shared prefix once).
  BatchPoint at_batch(int64_t batch, const WorkloadShape& workload, int64_t lanes = 1) const;

 private:
  double active_weight_bytes(int64_t batch) const;
  double flops_per_token(int64_t context_tokens) const;
  double attention_flops_per_token(int64_t cells) const;
  double gpu_attention_flops(bool sparse) const;
  double gpu_products_s(int64_t tokens) const;
  double gpu_small_kernels_s(int64_t steps, int64_t tokens) const;
  double peak_flops(int64_t tokens) const;
  bool sparse_attention_applies() const;
  static constexpr int64_t kSparseTileQueries = 8;

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
