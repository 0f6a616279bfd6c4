#include "plan/plan.h"

#include <algorithm>
#include <cstdio>

#include "core/units.h"
#include "hardware/hardware_key.h"
#include "model/amx_packing.h"
#include "plan/gpu_run_default.h"
#include "plan/measured_calibration.h"

namespace batchwise {
namespace {

// What llama.cpp's AMX buffers add to the weights a CPU plan holds, said once: the table shows the sum only.
std::optional<std::string> amx_note(const RecommendInput& in) {
  if (!in.base.cpu_amx) return std::nullopt;
  ContextConfig plain = in.base;
  plain.cpu_amx = false;
  const int64_t added = estimate_memory(in.spec, in.weights, in.base, false).device.weights_bytes -
                        estimate_memory(in.spec, in.weights, plain, false).device.weights_bytes;
  if (added <= 0) return std::nullopt;
  const bool tied_copy = in.weights.output_bytes == 0 && in.weights.token_embd_amx_bytes > 0;
  return "llama.cpp keeps this CPU's matrices in AMX buffers: the weights take " + format_gib(added) +
         " more in memory (their packed layout" + (tied_copy ? ", and a second copy of the tied output projection)" : ")");
}

// With layers split over n devices each holds 1/n of the weights and KV cache, and its own compute buffer.
std::vector<DeviceShare> split_over(const Hardware& hw, const MemoryEstimate& m) {
  std::vector<DeviceShare> out;
  if (hw.gpus.empty()) {
    out.push_back(DeviceShare{hw.cpu.name, hw.cpu.memory_bytes, m.device});
    return out;
  }
  const auto n = static_cast<int64_t>(hw.gpus.size());
  for (const auto& g : hw.gpus) {
    DeviceMemory d = m.device;
    d.weights_bytes /= n;
    d.kv_cache_bytes /= n;
    out.push_back(DeviceShare{g.name, g.memory_bytes, d});
  }
  return out;
}

}  // namespace

Expected<Plan> make_plan(const PlanRequest& request) {
  Plan plan;
  BW_TRY(validate_workload(request.workload));
  BW_ASSIGN_OR_RETURN(plan.model, load_model_info(request.model));
  BW_ASSIGN_OR_RETURN(plan.hardware, select_hardware(request.gpu, request.gpu_count));
  BW_TRY(apply_overrides(plan.hardware, request.machine, request.gpu_count));
  if (!plan.hardware.note.empty()) plan.notes.push_back(plan.hardware.note);

  const bool gguf = plan.model.source == "gguf";
  if (gguf && (!request.quant || (plan.model.file_type && file_type_name(*plan.model.file_type) == *request.quant))) {
    plan.weights = *plan.model.file_weights;
    plan.quant = plan.model.file_type ? std::string(file_type_name(*plan.model.file_type)) : "file";
  } else if (!request.quant && plan.model.file_weights) {
    plan.weights = *plan.model.file_weights;  // safetensors checkpoint as stored (bf16/f16)
    plan.quant = "checkpoint";
  } else {
    BW_ASSIGN_OR_RETURN(FileType type, parse_file_type(request.quant.value_or("q4_k_m")));
    plan.weights = estimate_weights(plan.model.spec, type);
    plan.quant = std::string(file_type_name(type));
    if (gguf) plan.notes.push_back("weights estimated for " + plan.quant + ", not the file's own types");
  }

  RecommendInput& in = plan.input;
  in.spec = plan.model.spec;
  in.weights = plan.weights;
  in.workload = request.workload;
  in.calibration = request.calibration;
  if (request.use_measured_calibration && !request.gpu) {
    if (const auto m = load_measured_calibration(hardware_key(plan.hardware))) {
      in.calibration = scale_speed(request.calibration, m->speed_factor);
      plan.measured_speed_factor = m->speed_factor;
      char note[320];
      std::snprintf(note, sizeof note,
                    "calibrated: speeds x %.3g, the median of %zu tunes (%d trials, spread %.0f%%) on this hardware (%s)",
                    m->speed_factor, m->samples.size(), m->trials, 100 * m->spread, m->measured_with.c_str());
      plan.notes.push_back(note);
    }
  }
  in.max_latency_s = request.max_latency_s;
  in.share_prefix = request.share_prefix;
  BW_ASSIGN_OR_RETURN(in.base.k_type, parse_weight_type(request.k_type.value_or(request.kv_type)));
  BW_ASSIGN_OR_RETURN(in.base.v_type, parse_weight_type(request.v_type.value_or(request.kv_type)));
  BW_TRY(check_kv_types(in.spec, in.base.k_type, in.base.v_type));
  in.base.flash_attention = request.flash_attention || in.base.v_type.name != "f16";
  in.base.sparse_attention = request.sparse_attention;
  if (!request.flash_attention && in.base.v_type.name != "f16") {
    plan.notes.push_back("a quantized V cache needs flash attention: planned with it on");
  }
  in.one_gpu = plan.hardware.primary();
  in.gpu_count = std::max<int64_t>(1, static_cast<int64_t>(plan.hardware.gpus.size()));
  // Without -ub, the batch sizes run takes: on one GPU those its default was measured with (gpu_run_default.h).
  const bool run_gpu_batches = !request.ubatch_tokens && plan.hardware.gpus.size() == 1;
  in.base.n_ubatch_tokens = run_gpu_batches ? kGpuDefaultUbatchTokens : request.ubatch_tokens.value_or(512);
  in.base.n_batch_tokens = run_gpu_batches ? kGpuDefaultBatchTokens : std::max<int64_t>(2048, in.base.n_ubatch_tokens);
  in.device = combine_gpus(in, in.one_gpu, in.gpu_count);
  in.base.cpu_amx = !in.device.is_gpu() && plan.hardware.host.llama_cpu_amx && amx_holds_model(in.spec);
  if (const auto note = amx_note(in)) plan.notes.push_back(*note);
  for (const auto* v : {&request.parallel, &request.ctx_tokens, &request.lanes}) {
    if (*v && **v <= 0) {
      return make_error(ErrorCode::kInvalidArgument, "-np/--parallel, -c/--ctx-size and --lanes must be at least 1");
    }
  }
  in.lanes = request.lanes;
  if (request.parallel) {
    const int64_t lanes = request.lanes.value_or(1);
    if (*request.parallel > kRunSequencesPerLane * lanes) {
      plan.notes.push_back("-np " + std::to_string(*request.parallel) + " over " + std::to_string(lanes) +
                           " lane(s): run holds at most " + std::to_string(kRunSequencesPerLane) +
                           " sequences in one llama.cpp context (256 less its 4 prefix slots): planned with --lanes " +
                           std::to_string((*request.parallel + kRunSequencesPerLane - 1) / kRunSequencesPerLane));
    }
  }
  in.asked_batch = request.parallel;
  in.asked_context_tokens = request.ctx_tokens;
  if (in.spec.n_ctx_train > 0 && request.workload.request_context_tokens() > in.spec.n_ctx_train) {
    plan.notes.push_back("a request's context (" + std::to_string(request.workload.request_context_tokens()) +
                         " tokens) exceeds the model's trained context (" + std::to_string(in.spec.n_ctx_train) + ")");
  }
  plan.recommendation = recommend(in);
  plan.devices = split_over(plan.hardware, plan.recommendation.recommended.memory);
  plan.flags = engine_flags(in, plan.recommendation.recommended);
  if (plan.recommendation.asked) plan.asked_flags = engine_flags(in, plan.recommendation.asked->choice);
  plan.tips = plan_tips(in, plan.recommendation, plan.quant);
  return plan;
}

}  // namespace batchwise
