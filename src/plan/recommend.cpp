#include "plan/recommend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "core/units.h"

namespace batchwise {
namespace {

BatchChoice evaluate_at(const RecommendInput& in, const ContextConfig& ctx) {
  BatchChoice c;
  const int64_t batch = ctx.n_seq;
  c.batch = batch;
  c.context_tokens = ctx.n_ctx_tokens;
  c.memory = estimate_memory(in.spec, in.weights, ctx, in.device.is_gpu());
  const PerfModel perf(in.spec, in.weights, in.device, ctx, in.calibration);
  c.perf = perf.at_batch(batch, in.workload);
  c.perf.device_memory_bytes = c.memory.device.total_bytes();
  c.perf.fits_memory = c.memory.device.total_bytes() <= in.device.memory_bytes;
  return c;
}

BatchChoice evaluate(const RecommendInput& in, int64_t batch) { return evaluate_at(in, context_for_batch(in, batch)); }

bool within(const RecommendInput& in, const BatchChoice& c, double fraction) {
  return static_cast<double>(c.memory.device.total_bytes()) <= fraction * static_cast<double>(in.device.memory_bytes);
}

// `batch` requests of `tokens` each that share the workload's prefix as the plan does (when it shares).
ContextConfig context_per_request(const RecommendInput& in, int64_t batch, int64_t tokens) {
  ContextConfig ctx = in.base;
  ctx.n_seq = batch;
  ctx.kv_unified = in.share_prefix;
  const int64_t shared = in.share_prefix ? std::min(tokens, in.workload.shared_prefix_tokens) : 0;
  ctx.n_ctx_tokens = in.share_prefix ? padded_context(shared + batch * (tokens - shared)) : batch * padded_context(tokens);
  return ctx;
}

// The longest request (tokens, at most the trained context) of which `batch` fit `fraction` of memory.
int64_t longest_request(const RecommendInput& in, int64_t batch, double fraction) {
  if (batch <= 0) return 0;
  const int64_t cap = in.spec.n_ctx_train > 0 ? in.spec.n_ctx_train : int64_t{1} << 20;
  auto ok = [&](int64_t t) { return within(in, evaluate_at(in, context_per_request(in, batch, t)), fraction); };
  if (!ok(1)) return 0;
  int64_t lo = 1, hi = cap;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (ok(mid)) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

AskedSettings evaluate_asked(const RecommendInput& in) {
  AskedSettings a;
  const int64_t ctx_tokens = in.asked_context_tokens.value_or(0);
  int64_t batch = in.asked_batch.value_or(0);
  if (batch <= 0) {
    // -c alone: as many of the workload's requests as its cells hold (at least one).
    batch = 1;
    while (batch < in.max_batch_cap && in.workload.kv_cells_for_batch(batch + 1, in.share_prefix) <= ctx_tokens) ++batch;
  }
  ContextConfig ctx = context_for_batch(in, batch);
  if (ctx_tokens > 0) ctx.n_ctx_tokens = padded_context(ctx_tokens);
  a.choice = evaluate_at(in, ctx);
  a.free_bytes = in.device.memory_bytes - a.choice.memory.device.total_bytes();
  a.fits = a.free_bytes >= 0;
  a.meets_headroom = within(in, a.choice, kSafeMemoryFraction);
  for (int64_t b = 1; b <= batch; ++b) {
    if (in.workload.kv_cells_for_batch(b, in.share_prefix) > ctx.n_ctx_tokens) break;
    a.requests_held = b;
  }
  if (!ctx.kv_unified) {
    const int64_t per_seq = ctx.n_ctx_tokens / batch;
    a.requests_held = per_seq >= in.workload.request_context_tokens() ? batch : 0;
  }
  return a;
}

bool fits(const RecommendInput& in, int64_t batch, double fraction) { return within(in, evaluate(in, batch), fraction); }

// Largest batch in [1, cap] with fits(batch): memory grows with batch, so binary search.
int64_t largest_fitting(const RecommendInput& in, int64_t cap, double fraction) {
  if (!fits(in, 1, fraction)) return 0;
  int64_t lo = 1, hi = cap;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (fits(in, mid, fraction)) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

std::vector<std::string> suggestions_for(const RecommendInput& in, int64_t need_bytes) {
  std::vector<std::string> out;
  // The largest weights that fit: every quantization smaller than the current, largest first.
  std::vector<std::pair<FileType, WeightsSummary>> smaller;
  for (FileType t : {FileType::kQ8_0, FileType::kQ6_K, FileType::kQ5_K_M, FileType::kQ5_K_S, FileType::kQ4_K_M,
                     FileType::kQ4_K_S, FileType::kIQ4_XS, FileType::kQ4_0, FileType::kQ3_K_M, FileType::kQ2_K}) {
    const WeightsSummary w = estimate_weights(in.spec, t);
    if (w.total_bytes < in.weights.total_bytes) smaller.emplace_back(t, w);
  }
  std::sort(smaller.begin(), smaller.end(),
            [](const auto& a, const auto& b) { return a.second.total_bytes > b.second.total_bytes; });
  for (const auto& [t, w] : smaller) {
    RecommendInput q = in;
    q.weights = w;
    if (fits(q, 1, 1.0)) {
      out.push_back("--quant " + std::string(file_type_name(t)) + " (weights " + format_gib(w.total_bytes) +
                    ", the largest quantization that fits)");
      break;
    }
  }
  const BatchChoice one = evaluate(in, 1);
  if (in.base.k_type.name == "f16" && check_kv_types(in.spec, *parse_weight_type("q8_0"), *parse_weight_type("q8_0"))) {
    RecommendInput q = in;
    q.base.k_type = q.base.v_type = *parse_weight_type("q8_0");
    q.base.flash_attention = true;
    if (fits(q, 1, 1.0)) {
      out.push_back("--kv-type q8_0 (run: -ctk q8_0 -ctv q8_0) halves the KV cache (" +
                    format_gib(one.memory.device.kv_cache_bytes) + ") and fits");
    }
  }
  // A caller that set no one_gpu plans for one device: that is the GPU to count in.
  const Device& one_gpu = in.one_gpu.memory_bytes > 0 ? in.one_gpu : in.device;
  if (one_gpu.is_gpu() && one_gpu.memory_bytes > 0) {
    for (int64_t n = in.gpu_count + 1; n <= 16; ++n) {
      RecommendInput split = in;
      split.device = combine_gpus(in, one_gpu, n);
      if (fits(split, 1, 1.0)) {
        out.push_back("--gpus " + std::to_string(n) + ": layers split over " + std::to_string(n) + " such GPUs fit");
        break;
      }
    }
  }
  if (in.device.is_gpu() && in.spec.n_layer > 0) {
    const int64_t per_layer = in.weights.total_bytes / in.spec.n_layer;
    const int64_t spare = in.device.memory_bytes - (need_bytes - in.weights.total_bytes) - in.weights.token_embd_bytes;
    const int64_t layers = per_layer > 0 ? std::clamp<int64_t>(spare / per_layer, 0, in.spec.n_layer) : 0;
    out.push_back("partial offload: -ngl " + std::to_string(layers) + " keeps " +
                  std::to_string(in.spec.n_layer - layers) + " of " + std::to_string(in.spec.n_layer) +
                  " layers in host RAM (much slower)");
  }
  out.push_back("a shorter context (--prompt-tokens/--output-tokens) or a device with more memory (--gpu)");
  return out;
}

}  // namespace

ContextConfig context_for_batch(const RecommendInput& in, int64_t batch) {
  ContextConfig ctx = in.base;
  ctx.n_seq = batch;
  ctx.kv_unified = in.share_prefix;
  // Cells: the workload's need with 5% slack for tokenizer variance, padded as llama.cpp pads.
  const int64_t cells = in.workload.kv_cells_for_batch(batch, in.share_prefix);
  ctx.n_ctx_tokens = padded_context(static_cast<int64_t>(std::ceil(static_cast<double>(cells) * 1.05)));
  if (!ctx.kv_unified) {
    const int64_t per_seq = padded_context(static_cast<int64_t>(std::ceil(in.workload.request_context_tokens() * 1.05)));
    ctx.n_ctx_tokens = per_seq * batch;
  }
  return ctx;
}

Status check_kv_types(const ModelSpec& spec, const WeightType& k_type, const WeightType& v_type) {
  const int64_t k_head = spec.is_mla() ? spec.kv_lora_rank + spec.qk_rope_head_dim : spec.head_dim;
  const int64_t v_head = spec.is_mla() ? spec.kv_lora_rank : (spec.v_head_dim > 0 ? spec.v_head_dim : spec.head_dim);
  for (const auto& [side, type, head] : {std::tuple{"K", &k_type, k_head}, std::tuple{"V", &v_type, v_head}}) {
    if (head > 0 && head % type->block_weights != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(side) + " cache type " + std::string(type->name) + ": llama.cpp needs the " + side +
                            " head size (" + std::to_string(head) + ") to be a multiple of its block (" +
                            std::to_string(type->block_weights) + " values); use f16 for this model");
    }
  }
  return {};
}

Device combine_gpus(const RecommendInput& in, const Device& one, int64_t n) {
  Device d = one;
  if (n <= 1) return d;
  RecommendInput single = in;
  single.device = one;
  const int64_t per_device_fixed =
      kGpuRuntimeOverheadBytes + compute_buffer_bytes(in.spec, context_for_batch(single, 1), /*on_gpu=*/true);
  d.memory_bytes = n * one.memory_bytes - (n - 1) * per_device_fixed;
  d.name = std::to_string(n) + " x " + one.name;
  return d;
}

Recommendation recommend(const RecommendInput& in) {
  Recommendation r;
  if (in.asked_batch || in.asked_context_tokens) r.asked = evaluate_asked(in);
  const BatchChoice one = evaluate(in, 1);
  if (one.memory.device.total_bytes() > in.device.memory_bytes) {
    r.fits = false;
    r.shortfall_bytes = one.memory.device.total_bytes() - in.device.memory_bytes;
    r.suggestions = suggestions_for(in, one.memory.device.total_bytes());
    r.max = r.recommended = r.safe = one;
    r.safe_meets_headroom = false;
    r.curve.push_back(one.perf);
    return r;
  }
  r.fits = true;
  const int64_t cap = std::max<int64_t>(1, in.max_batch_cap);
  const int64_t max_batch = largest_fitting(in, cap, 1.0);
  r.max = evaluate(in, max_batch);
  r.limited_by = max_batch == cap ? "sequence cap" : "memory";

  for (int64_t b = 1; b < max_batch; b *= 2) r.curve.push_back(evaluate(in, b).perf);
  r.curve.push_back(r.max.perf);
  r.knee = knee_index(r.curve);
  r.pareto = pareto_indices(r.curve);

  int64_t chosen = r.curve[r.knee].batch;
  if (in.max_latency_s) {
    // The knee if it meets the SLO, else the largest batch on the curve that does.
    int64_t within = 0;
    for (const auto& p : r.curve) {
      if (p.request_latency_s <= *in.max_latency_s) within = std::max(within, p.batch);
    }
    if (within == 0) {
      chosen = 1;
      r.limited_by = "latency SLO (not met even at batch 1)";
    } else if (within < chosen) {
      chosen = within;
      r.limited_by = "latency SLO";
    }
  }
  if (r.limited_by == "memory" || r.limited_by == "sequence cap") {
    if (chosen < max_batch) r.limited_by = "throughput knee";
  }
  r.recommended = evaluate(in, chosen);
  const int64_t safe_fit = largest_fitting(in, chosen, kSafeMemoryFraction);
  r.safe_meets_headroom = safe_fit > 0;
  r.safe = evaluate(in, std::min(chosen, std::max<int64_t>(1, safe_fit)));
  r.per_request.max_tokens = longest_request(in, 1, 1.0);
  r.per_request.recommended_tokens = longest_request(in, r.recommended.batch, 1.0);
  r.per_request.safe_tokens = r.safe_meets_headroom ? longest_request(in, r.safe.batch, kSafeMemoryFraction) : 0;
  return r;
}

}  // namespace batchwise
