#include "plan/tips.h"

#include <cstdio>
#include <cstdlib>

#include "core/units.h"

namespace batchwise {
namespace {

// Datacenter GPUs: where bench/results measured F16 faster than Q4_K_M at large batch (H200).
constexpr double kDatacenterFp16Flops = 300e12;

std::string num(double v, int digits) {
  char s[48];
  std::snprintf(s, sizeof s, "%.*f", digits, v);
  return s;
}

std::string tokens(int64_t n) { return std::to_string(n); }

void kv_cache_tip(const RecommendInput& in, const Recommendation& r, std::vector<Tip>& out) {
  const DeviceMemory& m = r.recommended.memory.device;
  const double share = m.total_bytes() > 0 ? static_cast<double>(m.kv_cache_bytes) / static_cast<double>(m.total_bytes()) : 0;
  if (in.base.k_type.name != "f16") {
    out.push_back({"kv cache", "KV cache " + std::string(in.base.k_type.name) + ": " + format_gib(m.kv_cache_bytes) +
                                   " at batch " + tokens(r.recommended.batch) + " (" + num(100 * share, 0) +
                                   "% of memory)"});
    return;
  }
  const WeightType q8 = *parse_weight_type("q8_0");
  if (auto ok = check_kv_types(in.spec, q8, q8); !ok) {
    out.push_back({"kv cache", "f16 only: " + ok.error().message});
    return;
  }
  RecommendInput q = in;
  q.base.k_type = q.base.v_type = q8;
  q.base.flash_attention = true;
  q.asked_batch.reset();
  q.asked_context_tokens.reset();
  const Recommendation rq = recommend(q);
  if (rq.max.batch > r.max.batch && r.limited_by != "sequence cap") {
    out.push_back({"kv cache", "-ctk q8_0 -ctv q8_0 (plan --kv-type q8_0) halves the KV cache: max batch " +
                                   tokens(r.max.batch) + " -> " + tokens(rq.max.batch) + ", a request up to " +
                                   tokens(rq.per_request.max_tokens) + " tokens at batch 1 (now " +
                                   tokens(r.per_request.max_tokens) + ")"});
  } else {
    out.push_back({"kv cache", "keep the f16 KV cache: it is " + num(100 * share, 0) + "% of memory at batch " +
                                   tokens(r.recommended.batch) + " and q8_0 would not raise the max batch (" +
                                   tokens(r.max.batch) + ", " + r.limited_by + ")"});
  }
}

void context_tip(const RecommendInput& in, const Recommendation& r, std::vector<Tip>& out) {
  const int64_t need = in.workload.request_context_tokens();
  std::string text = "a request may hold up to " + tokens(r.per_request.max_tokens) + " tokens at batch 1, " +
                     tokens(r.per_request.recommended_tokens) + " at the recommended batch " +
                     tokens(r.recommended.batch);
  if (r.per_request.safe_tokens > 0) {
    text += ", " + tokens(r.per_request.safe_tokens) + " at batch " + tokens(r.safe.batch) + " with 15% left free";
  }
  text += "; this workload needs " + tokens(need);
  if (in.spec.n_ctx_train > 0 && r.per_request.max_tokens >= in.spec.n_ctx_train) {
    text += " (" + tokens(in.spec.n_ctx_train) + " is the model's trained context)";
  }
  out.push_back({"context", text});
}

void flash_attention_tip(const RecommendInput& in, const Recommendation& r, std::vector<Tip>& out) {
  RecommendInput other = in;
  other.base.flash_attention = !in.base.flash_attention;
  const int64_t now = r.recommended.memory.device.compute_bytes;
  const int64_t then =
      evaluate_layout(other, layout_for(in, r.recommended.batch, r.recommended.lanes)).memory.device.compute_bytes;
  // Figures that print alike (a model whose buffer is its logits) are said to be the same, not "X instead of X".
  const bool same = format_gib(then) == format_gib(now);
  if (in.base.flash_attention) {
    out.push_back({"flash attention", "keep flash attention on (-fa on, run's default): without it the compute buffer at batch " +
                                          tokens(r.recommended.batch) + " is " +
                                          (same ? "about the same (" + format_gib(now) + ")" : format_gib(then) + " instead of " + format_gib(now)) +
                                          ", and a quantized V cache needs it"});
  } else {
    out.push_back({"flash attention", "-fa on would make the compute buffer " +
                                          (same ? "about the same (" + format_gib(now) + ")" : format_gib(then) + " instead of " + format_gib(now)) +
                                          " and allow a quantized V cache"});
  }
}

// The recommended lanes against one fewer (where that holds the batch) or, at one lane, against two.
void lanes_tip(const RecommendInput& in, const Recommendation& r, std::vector<Tip>& out) {
  if (!in.device.is_gpu()) return;
  const BatchChoice& rec = r.recommended;
  if (rec.batch < 2) return;
  const auto holds = [&](int64_t lanes) { return (rec.batch + lanes - 1) / lanes <= kRunSequencesPerLane; };
  const int64_t other_lanes = rec.lanes == 1 ? 2 : holds(rec.lanes - 1) ? rec.lanes - 1 : rec.lanes + 1;
  const BatchChoice other = evaluate_layout(in, layout_for(in, rec.batch, other_lanes));
  const int64_t more = rec.memory.device.total_bytes() - other.memory.device.total_bytes();
  std::string text = "--lanes " + tokens(rec.lanes) + " at batch " + tokens(rec.batch) + " (" +
                     tokens(sequences_per_lane({rec.batch, 0, rec.lanes})) + " sequences a lane): " +
                     num(rec.perf.requests_per_s, 1) + " req/s vs " + num(other.perf.requests_per_s, 1) + " with --lanes " +
                     tokens(other_lanes) + ", for " + format_gib(std::abs(more)) + (more >= 0 ? " more" : " less") +
                     " memory (each lane holds the shared prefix once and has its own compute buffer; one lane's host "
                     "work overlaps another's GPU work; one lane holds at most " + tokens(kRunSequencesPerLane) + ")";
  if (!other.perf.fits_memory) text += "; --lanes " + tokens(other_lanes) + " does not fit";
  out.push_back({"lanes", text});
}

void quantization_tip(const RecommendInput& in, const Recommendation& r, const std::string& quant,
                      std::vector<Tip>& out) {
  if (!in.device.is_gpu()) return;
  const bool is_f16 = quant == "f16" || quant == "bf16" || quant == "checkpoint";
  RecommendInput other = in;
  other.weights = estimate_weights(in.spec, is_f16 ? FileType::kQ4_K_M : FileType::kF16);
  other.asked_batch.reset();
  other.asked_context_tokens.reset();
  const Recommendation ro = recommend(other);
  const std::string name = is_f16 ? "q4_k_m" : "f16";
  if (!ro.fits) {
    if (!is_f16) out.push_back({"quantization", "f16 weights (" + format_gib(other.weights.total_bytes) + ") do not fit: keep " + quant});
    return;
  }
  const double now = r.recommended.perf.requests_per_s, then = ro.recommended.perf.requests_per_s;
  std::string text = "--quant " + name + " (for a GGUF: a " + name + " file of this model; weights " + format_gib(other.weights.total_bytes) + "): " + num(then, 1) +
                     " req/s at batch " + tokens(ro.recommended.batch) + " vs " + num(now, 1) + " req/s with " + quant +
                     " at batch " + tokens(r.recommended.batch);
  if (then > now * 1.05) {
    if (!is_f16 && in.device.fp16_flops_per_s >= kDatacenterFp16Flops) {
      text += in.device.tensor_peak_needs_warpgroup_mma()
                  ? ": at large batch this GPU is compute-bound, and llama.cpp's quantized matmuls reach about a sixth of "
                    "its f16 rate (its peak needs warpgroup MMAs, which they do not use): that costs more than the "
                    "weight reads they save (measured on an H200: F16 178 vs Q4_K_M 93 req/s, bench/results/README.md)"
                  : ": at large batch a datacenter GPU is compute-bound and llama.cpp's quantized matmuls cost more "
                    "than the weight reads they save";
    }
    out.push_back({"quantization", "faster: " + text});
  } else {
    out.push_back({"quantization", "keep " + quant + ": " + text});
  }
}

void second_model_tip(const RecommendInput& in, const Recommendation& r, std::vector<Tip>& out) {
  const int64_t free_bytes = in.device.memory_bytes - r.recommended.memory.device.total_bytes();
  // A second instance at batch 1: its weights, one request's KV cells, its compute buffer and runtime.
  const ContextConfig ctx1 = context_for_batch(in, 1);
  const MemoryEstimate m1 = estimate_memory(in.spec, in.weights, ctx1, in.device.is_gpu());
  const int64_t second = m1.device.total_bytes();
  if (free_bytes >= second) {
    out.push_back({"second model", format_gib(free_bytes) + " free at the recommended batch: a second copy of this model "
                                   "(" + format_gib(second) + " at batch 1) or another model of that size fits beside it"});
  } else {
    const int64_t room = free_bytes - (second - m1.device.weights_bytes);
    out.push_back({"second model", format_gib(std::max<int64_t>(0, free_bytes)) + " free at the recommended batch: " +
                                   (room > 0 ? "room for another model of up to about " + format_gib(room) + " of weights"
                                             : std::string("no room for a second model"))});
  }
}

}  // namespace

std::vector<Tip> plan_tips(const RecommendInput& in, const Recommendation& r, const std::string& quant) {
  std::vector<Tip> out;
  if (!r.fits) return out;  // DOES NOT FIT's options are the advice then
  kv_cache_tip(in, r, out);
  context_tip(in, r, out);
  flash_attention_tip(in, r, out);
  lanes_tip(in, r, out);
  quantization_tip(in, r, quant, out);
  second_model_tip(in, r, out);
  return out;
}

}  // namespace batchwise
