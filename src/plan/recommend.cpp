#include "plan/recommend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "core/units.h"

namespace batchwise {
namespace {

BatchChoice evaluate_at(const RecommendInput& in, const ContextConfig& ctx) {
  RunLayout l = layout_for(in, ctx.n_seq, 1);
  l.ctx_tokens = ctx.n_ctx_tokens;
  return evaluate_layout(in, l);
}

// The lanes counts `batch` may run with: the user's, else 1 on the CPU and on a GPU every count from
// the fewest that hold it up to kMaxPlannedLanes.
std::pair<int64_t, int64_t> lanes_range(const RecommendInput& in, int64_t batch) {
  const int64_t per_lane = std::max<int64_t>(1, in.max_batch_cap);
  const int64_t fewest = std::max<int64_t>(1, (batch + per_lane - 1) / per_lane);
  if (in.lanes) return {std::max(fewest, *in.lanes), std::max(fewest, *in.lanes)};
  if (!in.device.is_gpu()) return {fewest, fewest};
  return {fewest, std::max(fewest, std::min<int64_t>(kMaxPlannedLanes, batch))};
}

// The most sequences the plan considers: per lane cap x the most lanes.
int64_t batch_cap(const RecommendInput& in) {
  const int64_t lanes = in.lanes ? *in.lanes : in.device.is_gpu() ? kMaxPlannedLanes : 1;
  return std::max<int64_t>(1, in.max_batch_cap) * std::max<int64_t>(1, lanes);
}

// The fewest lanes: the least memory (every lane holds the prefix and a compute buffer of its own).
BatchChoice evaluate(const RecommendInput& in, int64_t batch) {
  return evaluate_layout(in, layout_for(in, batch, lanes_range(in, batch).first));
}

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

// Requests of the workload the layout's cells hold at once: each lane's c/L cells hold the prefix once
// and as many requests as fit beside it (a split cache: the requests whose stream is long enough).
int64_t requests_held(const RecommendInput& in, const RunLayout& l) {
  const int64_t lanes = effective_lanes(l.parallel, l.lanes);
  const int64_t lane_cells = padded_context(l.ctx_tokens / lanes);
  int64_t held = 0;
  for (const ContextConfig& c : lane_contexts(in.base, l)) {
    const int64_t sequences = c.n_seq - (in.share_prefix ? std::min(in.prefix_slots, c.n_seq - 1) : 0);
    if (!in.share_prefix) {
      held += lane_cells / sequences >= in.workload.request_context_tokens() ? sequences : 0;
      continue;
    }
    int64_t b = 0;
    while (b < sequences && in.workload.kv_cells_for_batch(b + 1, true) <= lane_cells) ++b;
    held += b;
  }
  return held;
}

AskedSettings evaluate_asked(const RecommendInput& in) {
  AskedSettings a;
  const int64_t ctx_tokens = in.asked_context_tokens.value_or(0);
  int64_t batch = in.asked_batch.value_or(0);
  if (batch <= 0) {
    // -c alone: as many of the workload's requests as its cells hold (at least one).
    batch = 1;
    while (batch < batch_cap(in) && run_ctx_tokens(in.workload, batch + 1, lanes_range(in, batch + 1).first, in.share_prefix, 1.0) <=
                                        padded_context(ctx_tokens)) {
      ++batch;
    }
  }
  // The lanes run would use: the user's, else run's default (on a GPU below 512 sequences one per 128, 2 to 4;
  // from 512 on one per 252, 4 to 16: auto_lanes in llama_engine.cpp), at least as many as hold -np.
  const bool run_gpu_default = in.device.is_gpu() && in.asked_batch && batch >= 2;
  const int64_t run_default_lanes = !run_gpu_default ? 1
                                    : batch < 512    ? std::clamp<int64_t>((batch + 127) / 128, 2, 4)
                                                     : std::clamp<int64_t>((batch + 251) / 252, 4, 16);
  const int64_t lanes = std::max(lanes_range(in, batch).first, in.lanes.value_or(run_default_lanes));
  RunLayout layout = layout_for(in, batch, lanes);
  if (ctx_tokens > 0) layout.ctx_tokens = padded_context(ctx_tokens);
  a.choice = evaluate_layout(in, layout);
  a.free_bytes = in.device.memory_bytes - a.choice.memory.device.total_bytes();
  a.fits = a.free_bytes >= 0;
  a.meets_headroom = within(in, a.choice, kSafeMemoryFraction);
  a.requests_held = std::min(batch, requests_held(in, layout));
  if (a.requests_held == 0) {
    // Nothing runs: every request would overflow its lane's context. No speed to show, only what -c would do.
    a.ctx_for_one_each = run_ctx_tokens(in.workload, layout.lanes, layout.lanes, in.share_prefix, 1.0);
    a.choice.perf = BatchPoint{};
    a.choice.perf.batch = batch;
    a.choice.perf.device_memory_bytes = a.choice.memory.device.total_bytes();
    a.choice.perf.fits_memory = a.fits;
  } else if (a.requests_held < batch) {
    // Only the requests the cells hold run at once: the speed is theirs, not -np's.
    BatchChoice held = evaluate_layout(in, layout_for(in, std::max<int64_t>(1, a.requests_held), layout.lanes));
    a.choice.perf = held.perf;
    a.choice.perf.batch = batch;
    a.choice.perf.device_memory_bytes = a.choice.memory.device.total_bytes();
    a.choice.perf.fits_memory = a.fits;
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

RunLayout layout_for(const RecommendInput& in, int64_t batch, int64_t lanes) {
  RunLayout l;
  l.parallel = std::max<int64_t>(1, batch);
  l.lanes = effective_lanes(l.parallel, lanes);
  l.prefix_slots = in.share_prefix ? in.prefix_slots : 0;
  l.ctx_tokens = run_ctx_tokens(in.workload, l.parallel, l.lanes, in.share_prefix);
  return l;
}

BatchChoice evaluate_layout(const RecommendInput& in, const RunLayout& layout) {
  BatchChoice c;
  c.batch = layout.parallel;
  c.lanes = effective_lanes(layout.parallel, layout.lanes);
  c.context_tokens = layout.ctx_tokens;
  ContextConfig base = in.base;
  base.kv_unified = in.share_prefix;
  c.memory = estimate_run_memory(in.spec, in.weights, base, layout, in.device.is_gpu());
  const PerfModel perf(in.spec, in.weights, in.device, lane_contexts(base, layout).front(), in.calibration);
  c.perf = perf.at_batch(c.batch, in.workload, c.lanes);
  c.perf.device_memory_bytes = c.memory.device.total_bytes();
  c.perf.fits_memory = c.memory.device.total_bytes() <= in.device.memory_bytes;
  return c;
}

BatchChoice evaluate_batch(const RecommendInput& in, int64_t batch) {
  const auto [fewest, most] = lanes_range(in, batch);
  BatchChoice best = evaluate_layout(in, layout_for(in, batch, fewest));
  for (int64_t lanes = fewest + 1; lanes <= most; ++lanes) {
    BatchChoice c = evaluate_layout(in, layout_for(in, batch, lanes));
    if (c.perf.fits_memory && c.perf.requests_per_s > best.perf.requests_per_s) best = std::move(c);
  }
  return best;
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
  const int64_t cap = batch_cap(in);
  const int64_t max_batch = largest_fitting(in, cap, 1.0);
  r.max = evaluate_batch(in, max_batch);
  r.limited_by = max_batch == cap ? "sequence cap" : "memory";

  for (int64_t b = 1; b < max_batch; b *= 2) r.curve.push_back(evaluate_batch(in, b).perf);
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
  r.recommended = evaluate_batch(in, chosen);
  const int64_t safe_fit = largest_fitting(in, chosen, kSafeMemoryFraction);
  r.safe_meets_headroom = safe_fit > 0;
  r.safe = evaluate_batch(in, std::min(chosen, std::max<int64_t>(1, safe_fit)));
  if (!within(in, r.safe, kSafeMemoryFraction)) r.safe = evaluate(in, r.safe.batch);
  r.per_request.max_tokens = longest_request(in, 1, 1.0);
  r.per_request.recommended_tokens = longest_request(in, r.recommended.batch, 1.0);
  r.per_request.safe_tokens = r.safe_meets_headroom ? longest_request(in, r.safe.batch, kSafeMemoryFraction) : 0;
  return r;
}

}  // namespace batchwise
