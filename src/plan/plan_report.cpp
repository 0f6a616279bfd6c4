#include "plan/plan_report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/units.h"

namespace batchwise {
namespace {

using nlohmann::json;

std::string fixed(double v, int digits) {
  char s[48];
  std::snprintf(s, sizeof s, "%.*f", digits, v);
  return s;
}

json memory_json(const DeviceMemory& m) {
  return {{"weights_bytes", m.weights_bytes}, {"kv_cache_bytes", m.kv_cache_bytes}, {"compute_bytes", m.compute_bytes},
          {"overhead_bytes", m.overhead_bytes}, {"output_bytes", m.output_bytes},
          {"total_bytes", m.total_bytes()}};
}

json point_json(const BatchPoint& p) {
  return {{"batch", p.batch},
          {"lanes", p.lanes},
          {"decode_step_s", p.step_s},
          {"decode_tokens_per_s", p.decode_tokens_per_s},
          {"step_tokens_per_s", p.step_s > 0 ? static_cast<double>(p.batch) / p.step_s : 0.0},
          {"requests_per_s", p.requests_per_s},
          {"request_latency_s", p.request_latency_s},
          {"compute_bound", p.compute_bound},
          {"device_memory_bytes", p.device_memory_bytes}};
}

json choice_json(const BatchChoice& c) {
  json j = point_json(c.perf);
  j["context_tokens"] = c.context_tokens;
  j["device_memory"] = memory_json(c.memory.device);
  j["host_memory"] = memory_json(c.memory.host);
  return j;
}

json device_json(const Device& d) {
  return {{"name", d.name},
          {"kind", d.kind},
          {"source", d.source},
          {"memory_bytes", d.memory_bytes},
          {"bandwidth_bytes_per_s", d.bandwidth_bytes_per_s},
          {"fp16_flops_per_s", d.fp16_flops_per_s},
          {"int8_ops_per_s", d.int8_ops_per_s},
          {"compute_capability", d.compute_capability},
          {"tensor_peak_needs_warpgroup_mma", d.tensor_peak_needs_warpgroup_mma()}};
}

}  // namespace

std::string plan_to_json(const Plan& p) {
  const ModelSpec& s = p.model.spec;
  const Recommendation& r = p.recommendation;
  const KvCacheEstimate& kv = r.recommended.memory.kv;
  json j;
  j["model"] = {{"name", s.name},
                {"source", p.model.source},
                {"architecture", s.architecture},
                {"parameter_count", s.parameter_count()},
                {"active_parameter_count", s.active_parameter_count()},
                {"n_layer", s.n_layer},
                {"n_layer_swa", s.n_layer_swa()},
                {"n_ctx_train_tokens", s.n_ctx_train},
                {"moe", s.is_moe()},
                {"mla", s.is_mla()},
                {"quant", p.quant},
                {"weights_bytes", p.weights.total_bytes},
                {"weights_source", p.weights.source},
                {"bits_per_weight", p.weights.bits_per_weight()},
                {"weights_bytes_by_type", p.weights.bytes_by_type}};
  j["hardware"] = {{"device", device_json(p.input.device)}, {"gpu_count", p.hardware.gpus.size()},
                   {"host_ram_total_bytes", p.hardware.host.ram_total_bytes}};
  j["workload"] = {{"name", p.input.workload.name},
                   {"prompt_tokens", p.input.workload.prompt_tokens},
                   {"shared_prefix_tokens", p.input.workload.shared_prefix_tokens},
                   {"output_tokens", p.input.workload.output_tokens}};
  if (p.input.max_latency_s) j["workload"]["max_latency_s"] = *p.input.max_latency_s;
  j["kv_cache"] = {{"k_type", std::string(p.input.base.k_type.name)},
                   {"v_type", std::string(p.input.base.v_type.name)},
                   {"kv_bytes_per_token", kv.bytes_per_token + kv.swa_bytes_per_token},
                   {"kv_bytes_per_token_full_layers", kv.bytes_per_token},
                   {"kv_bytes_per_token_swa_layers", kv.swa_bytes_per_token},
                   {"kv_bytes_per_token_per_layer",
                    kv_bytes_per_token_per_layer(s, p.input.base.k_type, p.input.base.v_type)}};
  j["fits"] = r.fits;
  if (!r.fits) {
    j["shortfall_bytes"] = r.shortfall_bytes;
    j["suggestions"] = r.suggestions;
  }
  j["limited_by"] = r.limited_by;
  if (r.asked) {
    const AskedSettings& a = *r.asked;
    j["asked"] = choice_json(a.choice);
    j["asked"]["fits"] = a.fits;
    j["asked"]["meets_headroom"] = a.meets_headroom;
    j["asked"]["free_bytes"] = a.free_bytes;
    j["asked"]["requests_held"] = a.requests_held;
    if (a.requests_held == 0) j["asked"]["ctx_for_one_request_each_lane"] = a.ctx_for_one_each;
    j["asked"]["engines"] = json::object();
    for (const auto& f : p.asked_flags) j["asked"]["engines"][f.engine] = {{"args", f.args}, {"command_line", f.command_line()}};
  }
  j["safe_meets_headroom"] = r.safe_meets_headroom;
  j["context_per_request"] = {{"max_tokens", r.per_request.max_tokens},
                              {"recommended_tokens", r.per_request.recommended_tokens},
                              {"safe_tokens", r.per_request.safe_tokens}};
  j["tips"] = json::array();
  for (const auto& t : p.tips) j["tips"].push_back({{"topic", t.topic}, {"tip", t.text}});
  j["max"] = choice_json(r.max);
  j["recommended"] = choice_json(r.recommended);
  j["safe"] = choice_json(r.safe);
  j["curve"] = json::array();
  for (const auto& pt : r.curve) j["curve"].push_back(point_json(pt));
  j["knee_batch"] = r.curve.empty() ? 0 : r.curve[r.knee].batch;
  j["pareto_batches"] = json::array();
  for (size_t i : r.pareto) j["pareto_batches"].push_back(r.curve[i].batch);
  j["devices"] = json::array();
  for (const auto& d : p.devices) j["devices"].push_back({{"name", d.name}, {"memory_bytes", d.memory_bytes},
                                                           {"predicted", memory_json(d.predicted)}});
  j["calibration"] = {{"bandwidth_efficiency", p.input.calibration.bandwidth_efficiency},
                      {"compute_efficiency", p.input.calibration.compute_efficiency},
                      {"quantized_compute_efficiency", p.input.calibration.quantized_compute_efficiency},
                      {"step_overhead_s", p.input.calibration.step_overhead_s},
                      {"host_s_per_logit", p.input.calibration.host_s_per_logit},
                      {"mask_s_per_cell", p.input.calibration.mask_s_per_cell},
                      {"gpu_step_overhead_s", p.input.calibration.gpu_step_overhead_s},
                      {"gpu_mask_s_per_cell", p.input.calibration.gpu_mask_s_per_cell},
                      {"gpu_products_bandwidth_efficiency", p.input.calibration.gpu_products_bandwidth_efficiency},
                      {"gpu_gemm_efficiency", p.input.calibration.gpu_gemm_efficiency},
                      {"gpu_quantized_gemm_efficiency", p.input.calibration.gpu_quantized_gemm_efficiency},
                      {"gpu_attention_efficiency", p.input.calibration.gpu_attention_efficiency},
                      {"gpu_dense_attention_efficiency", p.input.calibration.gpu_dense_attention_efficiency},
                      {"gpu_layer_kernels_s", p.input.calibration.gpu_layer_kernels_s},
                      {"gpu_layer_kernels_s_per_token", p.input.calibration.gpu_layer_kernels_s_per_token},
                      {"lane_overlap_norm", p.input.calibration.lane_overlap_norm},
                      {"gemv_compute_ratio", p.input.calibration.gemv_compute_ratio},
                      {"gemm_tokens", p.input.calibration.gemm_tokens}};
  j["engines"] = json::object();
  for (const auto& f : p.flags) j["engines"][f.engine] = {{"args", f.args}, {"command_line", f.command_line()}, {"note", f.note}};
  j["notes"] = p.notes;
  return j.dump(2);
}

std::string plan_to_text(const Plan& p) {
  const ModelSpec& s = p.model.spec;
  const Recommendation& r = p.recommendation;
  const Device& d = p.input.device;
  std::string out;
  char row_buffer[256];
  auto line = [&](const std::string& text) { out += text + "\n"; };
  line("model     " + s.name + " (" + s.architecture + ", " + fixed(s.parameter_count() / 1e9, 2) + "B params" +
       (s.is_moe() ? ", " + fixed(s.active_parameter_count() / 1e9, 2) + "B active" : "") + (s.is_mla() ? ", MLA" : "") +
       (s.has_swa() ? ", SWA " + std::to_string(s.n_layer_swa()) + "/" + std::to_string(s.n_layer) + " layers" : "") +
       ") " + p.quant + ": weights " + format_gib(p.weights.total_bytes) + " (" + fixed(p.weights.bits_per_weight(), 2) +
       " bits/weight, " + p.weights.source + ")");
  if (p.input.gpu_count > 1) {
    // Each GPU's memory as given (--gpu-memory is per GPU), then what the split leaves for the model.
    const Device& one = p.input.one_gpu;
    const int64_t n = p.input.gpu_count;
    line("device    " + d.name + " [" + d.source + "]: " + format_gib(one.memory_bytes) + " each, " +
         format_gib(n * one.memory_bytes) + " in all, of which " + format_gib(n * one.memory_bytes - d.memory_bytes) +
         " for the other GPUs' own compute buffers and runtime: " + format_gib(d.memory_bytes) + " planned; " +
         fixed(one.bandwidth_bytes_per_s / 1e9, 0) + " GB/s, " + fixed(one.fp16_flops_per_s / 1e12, 1) +
         " TFLOP/s fp16 dense each");
  } else {
    line("device    " + d.name + " [" + d.source + "]: " + format_gib(d.memory_bytes) + ", " +
         fixed(d.bandwidth_bytes_per_s / 1e9, 0) + " GB/s, " + fixed(d.fp16_flops_per_s / 1e12, 1) + " TFLOP/s fp16 dense");
  }
  const auto& w = p.input.workload;
  line("workload  " + (w.name.empty() ? std::string("custom") : w.name) + ": " + std::to_string(w.prompt_tokens) +
       " prompt tokens (" + std::to_string(w.shared_prefix_tokens) + " shared) + " + std::to_string(w.output_tokens) +
       " output" + (p.input.max_latency_s ? ", SLO " + fixed(*p.input.max_latency_s, 1) + " s/request" : ""));
  const KvCacheEstimate& kv = r.recommended.memory.kv;
  line("kv cache  " + std::to_string(kv.bytes_per_token + kv.swa_bytes_per_token) + " bytes/token (" +
       std::string(p.input.base.k_type.name) + ")" +
       (kv.swa_bytes_per_token ? ", of which " + std::to_string(kv.swa_bytes_per_token) + " in SWA layers (window " +
                                     std::to_string(s.sliding_window) + ")"
                               : ""));
  for (const auto& n : p.notes) line("note      " + n);
  if (r.asked) {
    const AskedSettings& a = *r.asked;
    const DeviceMemory& m = a.choice.memory.device;
    line("");
    line("asked     -np " + std::to_string(a.choice.batch) + " -c " + std::to_string(a.choice.context_tokens) + " --lanes " +
         std::to_string(a.choice.lanes) + ": " +
         (a.fits ? "fits, " + format_gib(a.free_bytes) + " free" : "DOES NOT FIT, short by " + format_gib(-a.free_bytes)) +
         " (" + format_gib(m.total_bytes()) + " of " + format_gib(d.memory_bytes) + ": weights " +
         format_gib(m.weights_bytes) + ", kv cache " + format_gib(m.kv_cache_bytes) + ", compute " +
         format_gib(m.compute_bytes) + ", runtime " + format_gib(m.overhead_bytes) + ")" +
         (a.fits && !a.meets_headroom ? "; leaves less than 15% free" : ""));
    if (a.requests_held == 0) {
      line("          the " + std::to_string(a.choice.context_tokens) + " cells (" +
           std::to_string(a.choice.context_tokens / a.choice.lanes) + " a lane) hold none of this workload's requests: " +
           "every one would overflow its context; give -c " + std::to_string(a.ctx_for_one_each) + " or more" +
           (a.choice.lanes > 1 ? " (or fewer --lanes)" : ""));
    } else if (a.requests_held < a.choice.batch) {
      line("          the " + std::to_string(a.choice.context_tokens) + " cells hold " + std::to_string(a.requests_held) +
           " of this workload's requests at once, not " + std::to_string(a.choice.batch));
    }
    if (a.fits && a.requests_held > 0) {
      std::snprintf(row_buffer, sizeof row_buffer, "          %.1f tokens/s, %.2f req/s, %.2fs per request%s",
                    a.choice.perf.decode_tokens_per_s, a.choice.perf.requests_per_s, a.choice.perf.request_latency_s,
                    a.requests_held < a.choice.batch
                        ? (" (the " + std::to_string(a.requests_held) + " requests it holds at once)").c_str()
                        : "");
      line(row_buffer);
    }
    for (const auto& f : p.asked_flags) {
      if (f.engine == "batchwise" || f.engine == "llama-server") line("          " + f.engine + ": " + f.command_line());
    }
  }
  if (!r.fits) {
    line("");
    line("DOES NOT FIT: batch 1 needs " + format_gib(r.max.memory.device.total_bytes()) + " but " + d.name + " has " +
         format_gib(d.memory_bytes) + " (short by " + format_gib(r.shortfall_bytes) + "). Options:");
    for (const auto& sug : r.suggestions) line("  - " + sug);
    return out;
  }
  line("");
  char row[256];
  std::snprintf(row, sizeof row, "%-12s %6s %5s %9s %11s %10s %10s %10s %11s %9s", "", "batch", "lanes", "context", "memory",
                "weights", "kv cache", "compute", "tokens/s", "latency");
  line(row);
  auto choice_row = [&](const char* label, const BatchChoice& c) {
    std::snprintf(row, sizeof row, "%-12s %6lld %5lld %9lld %11s %10s %10s %10s %11.1f %8.2fs", label, (long long)c.batch,
                  (long long)c.lanes, (long long)c.context_tokens, format_gib(c.memory.device.total_bytes()).c_str(),
                  format_gib(c.memory.device.weights_bytes).c_str(), format_gib(c.memory.device.kv_cache_bytes).c_str(),
                  format_gib(c.memory.device.compute_bytes).c_str(), c.perf.decode_tokens_per_s, c.perf.request_latency_s);
    line(row);
  };
  choice_row("max", r.max);
  choice_row("recommended", r.recommended);
  choice_row("safe", r.safe);
  if (p.devices.size() > 1) {
    for (size_t i = 0; i < p.devices.size(); ++i) {
      line("  device " + std::to_string(i) + " " + p.devices[i].name + ": " + format_gib(p.devices[i].predicted.total_bytes()) +
           " of " + format_gib(p.devices[i].memory_bytes) + " (recommended batch, layers split evenly)");
    }
  }
  line("limited by " + r.limited_by);
  if (!r.safe_meets_headroom) {
    line("safe      none: even batch 1 uses " + format_gib(r.safe.memory.device.total_bytes()) + " of " +
         format_gib(d.memory_bytes) + ", more than the 85% the safe rule allows");
  }
  line("context   per request up to " + std::to_string(r.per_request.max_tokens) + " tokens at batch 1 (max), " +
       std::to_string(r.per_request.recommended_tokens) + " at batch " + std::to_string(r.recommended.batch) +
       " (recommended), " +
       (r.safe_meets_headroom ? std::to_string(r.per_request.safe_tokens) + " at batch " + std::to_string(r.safe.batch) +
                                    " with 15% free (safe)"
                              : std::string("none with 15% free (safe)")));
  line("");
  line("batch lanes   req/s   tokens/s   latency   step      bound     (knee *, Pareto +)");
  for (size_t i = 0; i < r.curve.size(); ++i) {
    const auto& pt = r.curve[i];
    const bool pareto = std::find(r.pareto.begin(), r.pareto.end(), i) != r.pareto.end();
    std::snprintf(row, sizeof row, "%5lld %5lld %7.2f %10.1f %8.2fs %6.1fms  %-8s  %s%s", (long long)pt.batch,
                  (long long)pt.lanes, pt.requests_per_s,
                  pt.decode_tokens_per_s, pt.request_latency_s, pt.step_s * 1e3, pt.compute_bound ? "compute" : "memory",
                  i == r.knee ? "*" : "", pareto ? "+" : "");
    line(row);
  }
  line("");
  for (const auto& f : p.flags) line(f.engine + ": " + f.command_line());
  if (!p.tips.empty()) {
    line("");
    line("tips for this machine");
    for (const auto& t : p.tips) line("  - " + t.topic + ": " + t.text);
  }
  return out;
}

}  // namespace batchwise
