#include "plan/perf_model.h"

#include <algorithm>
#include <cmath>

namespace batchwise {

PerfModel::PerfModel(const ModelSpec& spec, const WeightsSummary& weights, const Device& device,
                     const ContextConfig& ctx, const Calibration& calibration)
    : spec_(spec), weights_(weights), device_(device), ctx_(ctx), cal_(calibration) {
  const auto it = weights_.bytes_by_type.find("f16");
  const auto bf = weights_.bytes_by_type.find("bf16");
  const int64_t half = (it != weights_.bytes_by_type.end() ? it->second : 0) +
                       (bf != weights_.bytes_by_type.end() ? bf->second : 0);
  quantized_ = half < weights_.total_bytes / 2;
}

// The FLOP/s a step of `tokens` tokens reaches: vector kernels below 0.75 x gemm_tokens, GEMM from gemm_tokens.
double PerfModel::peak_flops(int64_t tokens) const {
  // A GPU's quantized matmuls reach a fraction of its f16 GEMMs' rate (see Calibration); the CPU's quantized
  // matmuls are int8 dot products (AVX2/AVX512-VNNI) at its int8 rate, faster than its f16 ones.
  if (device_.is_gpu()) {
    if (!quantized_) return std::max(1e9, device_.fp16_flops_per_s * cal_.gpu_gemm_efficiency);
    const double share = device_.tensor_peak_needs_warpgroup_mma()
                             ? cal_.gpu_quantized_gemm_efficiency
                             : cal_.gpu_gemm_efficiency * cal_.quantized_compute_efficiency / cal_.compute_efficiency;
    return std::max(1e9, device_.fp16_flops_per_s * share);
  }
  const bool cpu_int8 = quantized_ && device_.int8_ops_per_s > 0;
  double eff = quantized_ && !cpu_int8 ? cal_.quantized_compute_efficiency : cal_.compute_efficiency;
  const double full = std::max(2.0, cal_.gemm_tokens), from = 0.75 * full;
  const auto t = static_cast<double>(std::max<int64_t>(1, tokens));
  if (t < full) {
    const double ramp = t <= from ? 0.0 : std::log(t / from) / std::log(full / from);
    eff *= cal_.gemv_compute_ratio + (1.0 - cal_.gemv_compute_ratio) * ramp;
  }
  return std::max(1e9, (cpu_int8 ? device_.int8_ops_per_s : device_.fp16_flops_per_s) * eff);
}

// A GPU's matrix products over `tokens` tokens: the weights read, then the math (see Calibration).
double PerfModel::gpu_products_s(int64_t tokens) const {
  const double weights = active_weight_bytes(tokens);
  const double math_s = flops_per_token(0) * static_cast<double>(tokens) / peak_flops(tokens);
  return std::max(weights / (device_.bandwidth_bytes_per_s * cal_.bandwidth_efficiency),
                  weights / (device_.bandwidth_bytes_per_s * cal_.gpu_products_bandwidth_efficiency) + math_s);
}

// What a GPU's flash attention achieves, FLOP/s, on the cells run's sparse or cascade attention gathers or on every
// cell of the lane (dense).
double PerfModel::gpu_attention_flops(bool sparse) const {
  return std::max(1e9, device_.fp16_flops_per_s *
                           (sparse ? cal_.gpu_attention_efficiency : cal_.gpu_dense_attention_efficiency));
}

// A GPU's norms, RoPE, element-wise ops, conversions and KV writes over `steps` graphs of `tokens` tokens in all.
double PerfModel::gpu_small_kernels_s(int64_t steps, int64_t tokens) const {
  return static_cast<double>(spec_.n_layer) * (static_cast<double>(steps) * cal_.gpu_layer_kernels_s +
                                               static_cast<double>(tokens) * cal_.gpu_layer_kernels_s_per_token);
}

// Weights one step streams: everything but the embedding table (a row lookup); of the routed experts,
// the share B tokens touch: 1 - (1 - k/n)^B of them when routing is uniform.
double PerfModel::active_weight_bytes(int64_t batch) const {
  const double dense = static_cast<double>(weights_.total_bytes - weights_.token_embd_bytes - weights_.routed_expert_bytes);
  double experts = 0;
  if (spec_.is_moe() && weights_.routed_expert_bytes > 0) {
    const double p = static_cast<double>(spec_.n_expert_used) / static_cast<double>(spec_.n_expert);
    experts = static_cast<double>(weights_.routed_expert_bytes) * (1.0 - std::pow(1.0 - p, static_cast<double>(batch)));
  }
  const double tied_output = weights_.output_bytes == 0 ? static_cast<double>(weights_.token_embd_bytes) : 0.0;
  return dense + experts + tied_output;
}

// 2 FLOP per active weight (embedding excluded, output projection included) plus attention over
// `context_tokens`.
double PerfModel::flops_per_token(int64_t context_tokens) const {
  const double params = static_cast<double>(spec_.active_parameter_count() - spec_.vocab_size * spec_.n_embd *
                                                                              (spec_.tied_embeddings ? 0 : 1));
  return 2.0 * params + attention_flops_per_token(context_tokens);
}

// QK^T and AV over `cells`, 4 x head_dim per head per cached token per layer (SWA layers at most the window).
double PerfModel::attention_flops_per_token(int64_t cells) const {
  double attended = 0;
  for (int64_t il = 0; il < spec_.n_layer; ++il) {
    const int64_t span = spec_.is_swa_layer(il) ? std::min(cells, spec_.sliding_window) : cells;
    attended += static_cast<double>(span);
  }
  const double qk_dim = spec_.is_mla() ? static_cast<double>(spec_.kv_lora_rank + spec_.qk_rope_head_dim)
                                       : static_cast<double>(spec_.head_dim);
  return 4.0 * static_cast<double>(spec_.n_head) * qk_dim * attended;
}

// What `run --attention sparse` gathers with: CUDA's sparse flash attention, which our llama.cpp patch enables for
// 128-wide heads with 4 or 8 query heads per KV head (the Llama family), in a unified cache with flash attention.
bool PerfModel::sparse_attention_applies() const {
  const int64_t gqa = spec_.n_head_kv > 0 ? spec_.n_head / spec_.n_head_kv : 0;
  return device_.is_gpu() && ctx_.sparse_attention && ctx_.flash_attention && ctx_.kv_unified && !spec_.is_mla() &&
         spec_.head_dim == 128 && (gqa == 4 || gqa == 8);
}

StepCost PerfModel::decode_step(int64_t batch, int64_t context_tokens, int64_t shared_tokens) const {
  const KvCacheEstimate kv = estimate_kv_cache(spec_, ctx_);
  const int64_t swa_span = std::min(context_tokens, std::max<int64_t>(spec_.sliding_window, 0));
  double kv_bytes_per_seq = static_cast<double>(kv.bytes_per_token * context_tokens + kv.swa_bytes_per_token * swa_span);
  double kv_bytes = kv_bytes_per_seq * static_cast<double>(batch);
  // The cells one token's attention (and its row of the mask) spans: in a unified cache every cell in
  // use in the lane (the shared prefix once, every sequence's own part), else its own stream.
  const int64_t shared = ctx_.kv_unified ? std::clamp<int64_t>(shared_tokens, 0, context_tokens) : 0;
  const int64_t lane_cells = ctx_.kv_unified ? shared + batch * (context_tokens - shared) : context_tokens;
  const bool sparse = sparse_attention_applies();
  // A shared prefix read once a step: cascade attention, or sparse attention's tiles, which all gather the
  // prefix's cells while they sit in the GPU's L2 cache (8 MiB a layer for an 8B model's 2,000 tokens).
  if ((cal_.prefix_attention_once || sparse) && shared > 0 && batch > 1) {
    kv_bytes -= static_cast<double>(kv.bytes_per_token * shared) * static_cast<double>(batch - 1);
  }
  StepCost c;
  const double weight_bytes = active_weight_bytes(batch);
  c.bytes = weight_bytes + kv_bytes;
  // A GPU's flash attention scores every cell of the lane (masked ones too); the CPU's skips masked cells.
  // Sparse attention (for the head shapes our patch enables) gathers for each tile of 8 queries the cells any of
  // them sees: the shared prefix once and 8 sequences' own cells. Cascade attention, run's default on GPUs that run
  // it, is planned alike (it measured within 2% of sparse).
  const int64_t gpu_cells = sparse ? std::min(lane_cells, shared + kSparseTileQueries * (context_tokens - shared)) : lane_cells;
  const double attention = device_.is_gpu() ? attention_flops_per_token(gpu_cells) : attention_flops_per_token(context_tokens);
  const auto b = static_cast<double>(batch);
  c.flops = (flops_per_token(0) + attention) * b;
  const double bandwidth = device_.bandwidth_bytes_per_s * cal_.bandwidth_efficiency;
  if (device_.is_gpu()) {
    // Kernels one after another: the products (weights), attention (KV cells), the layers' small kernels.
    const double products_s = gpu_products_s(batch);
    c.compute_bound = products_s > weight_bytes / bandwidth;
    c.device_s = products_s + std::max(kv_bytes / bandwidth, attention * b / gpu_attention_flops(sparse)) +
                 gpu_small_kernels_s(1, batch);
  } else {
    const double memory_s = c.bytes / bandwidth;
    const double compute_s = c.flops / peak_flops(batch);
    c.compute_bound = compute_s > memory_s;
    c.device_s = std::max(memory_s, compute_s);
  }
  c.host_s = (device_.is_gpu() ? cal_.gpu_step_overhead_s : cal_.step_overhead_s) + b * static_cast<double>(spec_.vocab_size) * cal_.host_s_per_logit +
             b * static_cast<double>(lane_cells) * (device_.is_gpu() ? cal_.gpu_mask_s_per_cell : cal_.mask_s_per_cell);
  c.seconds = c.device_s + c.host_s;
  return c;
}

StepCost PerfModel::prefill(int64_t sequences, int64_t tokens_per_sequence, int64_t past_tokens) const {
  StepCost c;
  const int64_t tokens = sequences * tokens_per_sequence;
  if (tokens <= 0) return c;
  const auto t = static_cast<double>(tokens);
  const double attention = attention_flops_per_token(past_tokens + tokens_per_sequence / 2) * t;
  c.flops = flops_per_token(0) * t + attention;
  c.bytes = active_weight_bytes(tokens);
  if (device_.is_gpu()) {
    // run's prompt tokens ride in decode steps: the step reads the weights and launches the kernels once for all of
    // its tokens, so a prompt token adds its math, its attention and its share of the small kernels.
    c.compute_bound = true;
    c.device_s = flops_per_token(0) * t / peak_flops(tokens) +
                 attention / gpu_attention_flops(sparse_attention_applies()) + gpu_small_kernels_s(0, tokens);
  } else {
    const double memory_s = c.bytes / (device_.bandwidth_bytes_per_s * cal_.bandwidth_efficiency);
    const double compute_s = c.flops / peak_flops(std::min(tokens, ctx_.n_ubatch_tokens));
    c.compute_bound = compute_s >= memory_s;
    c.device_s = std::max(compute_s, memory_s);
  }
  c.seconds = c.device_s;
  return c;
}

BatchPoint PerfModel::at_batch(int64_t batch, const WorkloadShape& w, int64_t lanes) const {
  BatchPoint p;
  p.batch = batch;
  lanes = std::clamp<int64_t>(lanes, 1, std::max<int64_t>(1, batch));
  p.lanes = lanes;
  const int64_t per_lane = (batch + lanes - 1) / lanes;
  const int64_t mid_context = w.prompt_tokens + w.output_tokens / 2;
  const StepCost step = decode_step(per_lane, mid_context, w.shared_prefix_tokens);
  const auto n = static_cast<double>(lanes);
  // One step of every lane: on the CPU the lanes share the cores; on a GPU the device runs one lane's step while
  // the others do host work, an overlap that is not perfect where the two are close (the lanes' steps drift in and
  // out of phase): their p-norm.
  if (!device_.is_gpu()) {
    p.step_s = n * step.seconds;
  } else if (lanes == 1) {
    p.step_s = step.seconds;
  } else {
    const double k = std::max(1.0, cal_.lane_overlap_norm);
    p.step_s = std::pow(std::pow(n * step.device_s, k) + std::pow(step.device_s + step.host_s, k), 1.0 / k);
  }
  p.compute_bound = step.compute_bound;
  // Per cycle, B requests each prefill their unique tokens (the shared prefix is cached once per lane) and
  // decode output_tokens steps together.
  const StepCost fill = prefill(batch, w.unique_prompt_tokens(), w.shared_prefix_tokens);
  const double cycle_s = fill.seconds + static_cast<double>(w.output_tokens) * p.step_s;
  p.request_latency_s = cycle_s;
  p.requests_per_s = cycle_s > 0 ? static_cast<double>(batch) / cycle_s : 0.0;
  p.decode_tokens_per_s = p.requests_per_s * static_cast<double>(w.output_tokens);
  return p;
}

size_t knee_index(const std::vector<BatchPoint>& points) {
  double best = 0;
  for (const auto& p : points) best = std::max(best, p.requests_per_s);
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].requests_per_s >= 0.9 * best) return i;
  }
  return 0;
}

std::vector<size_t> pareto_indices(const std::vector<BatchPoint>& points) {
  std::vector<size_t> out;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) {
      dominated = j != i && points[j].requests_per_s >= points[i].requests_per_s &&
                  points[j].request_latency_s <= points[i].request_latency_s &&
                  (points[j].requests_per_s > points[i].requests_per_s ||
                   points[j].request_latency_s < points[i].request_latency_s);
    }
    if (!dominated) out.push_back(i);
  }
  return out;
}

}  // namespace batchwise
