#include "plan/recommend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/units.h"

namespace batchwise {
namespace {

BatchChoice evaluate(const RecommendInput& in, int64_t batch) {
  BatchChoice c;
  c.batch = batch;
  const ContextConfig ctx = context_for_batch(in, batch);
  c.context_tokens = ctx.n_ctx_tokens;
  c.memory = estimate_memory(in.spec, in.weights, ctx, in.device.is_gpu());
  const PerfModel perf(in.spec, in.weights, in.device, ctx, in.calibration);
  c.perf = perf.at_batch(batch, in.workload);
  c.perf.device_memory_bytes = c.memory.device.total_bytes();
  c.perf.fits_memory = c.memory.device.total_bytes() <= in.device.memory_bytes;
  return c;
}

bool fits(const RecommendInput& in, int64_t batch, double fraction) {
  return static_cast<double>(evaluate(in, batch).memory.device.total_bytes()) <=
         fraction * static_cast<double>(in.device.memory_bytes);
}

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
  for (FileType t : {FileType::kQ8_0, FileType::kQ6_K, FileType::kQ5_K_M, FileType::kQ4_K_M, FileType::kQ3_K_M,
                     FileType::kQ2_K}) {
    const WeightsSummary w = estimate_weights(in.spec, t);
    if (w.total_bytes >= in.weights.total_bytes) continue;
    RecommendInput smaller = in;
    smaller.weights = w;
    if (fits(smaller, 1, 1.0)) {
      out.push_back("--quant " + std::string(file_type_name(t)) + " (weights " + format_gib(w.total_bytes) + ") fits");
      break;
    }
  }
  const BatchChoice one = evaluate(in, 1);
  if (in.base.k_type.name == "f16" && one.memory.device.kv_cache_bytes * 4 > need_bytes) {
    out.push_back("a quantized KV cache (--kv-type q8_0) halves the KV cache (" + format_gib(one.memory.device.kv_cache_bytes) + ")");
  }
  if (in.device.is_gpu() && in.device.memory_bytes > 0) {
    const int64_t gpus = (need_bytes + in.device.memory_bytes - 1) / in.device.memory_bytes + 1;
    out.push_back("--gpus " + std::to_string(gpus) + ": layers split over " + std::to_string(gpus) + " such GPUs");
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

Recommendation recommend(const RecommendInput& in) {
  Recommendation r;
  const BatchChoice one = evaluate(in, 1);
  if (one.memory.device.total_bytes() > in.device.memory_bytes) {
    r.fits = false;
    r.shortfall_bytes = one.memory.device.total_bytes() - in.device.memory_bytes;
    r.suggestions = suggestions_for(in, one.memory.device.total_bytes());
    r.max = r.recommended = r.safe = one;
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
  const int64_t safe_batch = std::min(chosen, std::max<int64_t>(1, largest_fitting(in, chosen, kSafeMemoryFraction)));
  r.safe = evaluate(in, safe_batch);
  return r;
}

}  // namespace batchwise
