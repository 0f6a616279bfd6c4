// `batchwise plan`: memory, batch/context, throughput and engine flags for a model on some hardware
// and a workload. A pure model: loads no weights.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/command.h"
#include "hardware/gpu_catalogue.h"
#include "plan/plan.h"
#include "plan/plan_report.h"

namespace batchwise {
namespace {

struct PlanFlags {
  std::string model;
  std::string quant;
  std::string gpu;
  int gpus = 1;
  std::string workload = "seed";
  int64_t prompt_tokens = -1;
  int64_t output_tokens = -1;
  int64_t shared_prefix = -1;
  std::string kv_type = "f16";
  double max_latency_s = 0;
  int64_t ubatch = 512;
  bool no_flash_attn = false;
  bool no_prefix_sharing = false;
  bool json = false;
  bool uncalibrated = false;
};

// `plan --gpu list`: the catalogue a --gpu name is looked up in, with the figures plan uses.
int list_gpus() {
  auto gpus = load_gpu_catalogue();
  if (!gpus) return report_error(gpus.error());
  std::printf("%-22s %10s %12s %14s\n", "gpu", "memory", "bandwidth", "fp16 dense");
  for (const auto& g : *gpus) {
    std::printf("%-22s %6.1f GiB %7.0f GB/s %8.0f TFLOP/s\n", g.name.c_str(), g.memory_bytes / 1073741824.0,
                g.bandwidth_bytes_per_s / 1e9, g.fp16_flops_per_s / 1e12);
  }
  return kExitOk;
}

int run_plan(const PlanFlags& f) {
  if (f.gpu == "list") return list_gpus();
  if (f.model.empty()) return report_error({ErrorCode::kInvalidArgument, "plan needs -m/--model (a preset, FILE.gguf or config.json)"});
  PlanRequest req;
  req.model = f.model;
  if (!f.quant.empty()) req.quant = f.quant;
  if (!f.gpu.empty()) req.gpu = f.gpu;
  req.gpu_count = f.gpus;
  auto workload = workload_preset(f.workload);
  if (!workload) return report_error(workload.error());
  req.workload = *workload;
  // Explicit token counts override the preset; a custom prompt without --shared-prefix shares nothing.
  if (f.prompt_tokens >= 0) {
    req.workload.name = "custom";
    req.workload.prompt_tokens = f.prompt_tokens;
    req.workload.shared_prefix_tokens = 0;
  }
  if (f.output_tokens >= 0) {
    req.workload.name = "custom";
    req.workload.output_tokens = f.output_tokens;
  }
  if (f.shared_prefix >= 0) {
    req.workload.name = "custom";
    req.workload.shared_prefix_tokens = f.shared_prefix;
  }
  req.kv_type = f.kv_type;
  if (f.max_latency_s > 0) req.max_latency_s = f.max_latency_s;
  req.ubatch_tokens = f.ubatch;
  req.flash_attention = !f.no_flash_attn;
  req.share_prefix = !f.no_prefix_sharing;
  req.use_measured_calibration = !f.uncalibrated;
  auto plan = make_plan(req);
  if (!plan) return report_error(plan.error());
  std::printf("%s\n", (f.json ? plan_to_json(*plan) : plan_to_text(*plan)).c_str());
  return kExitOk;
}

}  // namespace

Verb add_plan_command(CLI::App& app) {
  auto f = std::make_shared<PlanFlags>();
  auto* sub = app.add_subcommand("plan", "memory, batch, context, throughput and engine flags for a model on your hardware");
  sub->add_option("-m,--model", f->model, "preset name, FILE.gguf, or a HuggingFace config.json (or its folder); required");
  sub->add_option("--quant", f->quant, "weight quantization (f16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, ...; default: "
                                       "the GGUF's own, else q4_k_m)");
  sub->add_option("--gpu", f->gpu, "plan for this catalogue GPU instead of the probed hardware (e.g. \"RTX 4090\", cpu); "
                                   "`--gpu list` prints the catalogue");
  sub->add_option("--gpus", f->gpus, "number of such GPUs, layers split evenly")->capture_default_str();
  sub->add_option("--workload", f->workload, "seed (2,000 shared + 50 prompt tokens, 32 out), chat (500/250), long (8,000/500)")
      ->capture_default_str();
  sub->add_option("--prompt-tokens", f->prompt_tokens, "prompt tokens per request (overrides the workload)");
  sub->add_option("--output-tokens", f->output_tokens, "output tokens per request (overrides the workload)");
  sub->add_option("--shared-prefix", f->shared_prefix, "prompt tokens every request shares (overrides the workload)");
  sub->add_option("--kv-type", f->kv_type, "KV cache type: f16, q8_0, q4_0")->capture_default_str();
  sub->add_option("--max-latency", f->max_latency_s, "latency SLO, seconds per request (0: none)");
  sub->add_option("--ubatch-size", f->ubatch, "(-ub) physical batch, tokens (sizes the compute buffer)")->capture_default_str();
  sub->add_flag("--no-flash-attn", f->no_flash_attn, "plan without flash attention");
  sub->add_flag("--no-prefix-sharing", f->no_prefix_sharing, "the engine does not share a prefix's KV cells");
  sub->add_flag("--uncalibrated", f->uncalibrated,
                "ignore the speed calibration `batchwise tune` measured on this hardware (default: use it when there is one)");
  sub->add_flag("--json", f->json, "print as JSON (every figure named with its unit)");
  return {sub, [f] { return run_plan(*f); }};
}

}  // namespace batchwise
