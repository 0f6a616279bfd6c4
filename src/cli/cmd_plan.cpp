// `batchwise plan`: memory, batch/context, throughput and engine flags for a model on some hardware
// and a workload. A pure model: loads no weights.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/command.h"
#include "cli/layout_flags.h"
#include "hardware/gpu_catalogue.h"
#include "model/model_spec.h"
#include "plan/plan.h"
#include "plan/plan_report.h"
#include "plan/plan_table.h"

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
  std::string cache_type_k, cache_type_v;
  int parallel = 0;
  int lanes = 0;
  int64_t ctx_size = 0;
  std::string flash_attn = "on";
  std::string attention = "cascade";
  std::string gpu_memory, ram;
  double gpu_bandwidth_gb_s = 0;
  double gpu_tflops = 0;
  int cpu_cores = 0;
  bool all = false;
  double max_latency_s = 0;
  int64_t ubatch = 0;
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

Expected<PlanRequest> request_from(const PlanFlags& f) {
  PlanRequest req;
  req.model = f.model;
  if (!f.quant.empty()) req.quant = f.quant;
  if (!f.gpu.empty()) req.gpu = f.gpu;
  req.gpu_count = f.gpus;
  auto workload = workload_preset(f.workload);
  if (!workload) return std::unexpected(workload.error());
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
  if (f.ubatch > 0) req.ubatch_tokens = f.ubatch;
  req.flash_attention = !f.no_flash_attn;
  req.share_prefix = !f.no_prefix_sharing;
  req.use_measured_calibration = !f.uncalibrated;
  if (!f.cache_type_k.empty()) req.k_type = f.cache_type_k;
  if (!f.cache_type_v.empty()) req.v_type = f.cache_type_v;
  if (f.flash_attn == "off") req.flash_attention = false;
  req.sparse_attention = f.attention != "dense";
  if (f.parallel > 0) req.parallel = f.parallel;
  if (f.lanes > 0) req.lanes = f.lanes;
  if (f.ctx_size > 0) req.ctx_tokens = f.ctx_size;
  if (!f.gpu_memory.empty()) {
    BW_ASSIGN_OR_RETURN(req.machine.gpu_memory_bytes, parse_memory_size(f.gpu_memory, "--gpu-memory"));
  }
  if (!f.ram.empty()) {
    BW_ASSIGN_OR_RETURN(req.machine.ram_bytes, parse_memory_size(f.ram, "--ram"));
  }
  if (f.gpu_bandwidth_gb_s > 0) req.machine.gpu_bandwidth_bytes_per_s = f.gpu_bandwidth_gb_s * 1e9;
  if (f.gpu_tflops > 0) req.machine.gpu_fp16_flops_per_s = f.gpu_tflops * 1e12;
  if (f.cpu_cores > 0) req.machine.cpu_cores = f.cpu_cores;
  return req;
}

// The models `plan --all` tabulates: every preset, or with -m DIR every *.gguf in DIR (sorted).
Expected<std::vector<std::string>> models_for_all(const std::string& dir) {
  if (dir.empty()) return preset_names();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return make_error(ErrorCode::kInvalidArgument, "plan --all -m " + dir + ": not a folder (give a folder of .gguf files, "
                                                   "or no -m for every preset)");
  }
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) return make_error(ErrorCode::kNotFound, "plan --all -m " + dir + ": no .gguf files in it");
  return out;
}

int run_plan_all(const PlanFlags& f, const PlanRequest& base) {
  auto models = models_for_all(f.model);
  if (!models) return report_error(models.error());
  std::vector<PlanRow> rows;
  for (const auto& m : *models) {
    PlanRequest req = base;
    req.model = m;
    std::fprintf(stderr, "planning %s\n", m.c_str());
    rows.push_back(PlanRow{m, make_plan(req)});
  }
  std::printf("%s\n", (f.json ? plan_table_json(rows) : plan_table_text(rows)).c_str());
  return kExitOk;
}

int run_plan(const PlanFlags& f) {
  if (f.gpu == "list") return list_gpus();
  auto req = request_from(f);
  if (!req) return report_error(req.error());
  if (f.all) return run_plan_all(f, *req);
  if (f.model.empty()) return report_error({ErrorCode::kInvalidArgument, "plan needs -m/--model (a preset, FILE.gguf or config.json), or --all"});
  auto plan = make_plan(*req);
  if (!plan) return report_error(plan.error());
  std::printf("%s\n", (f.json ? plan_to_json(*plan) : plan_to_text(*plan)).c_str());
  return kExitOk;
}

}  // namespace

Verb add_plan_command(CLI::App& app) {
  auto f = std::make_shared<PlanFlags>();
  auto* sub = app.add_subcommand("plan", "memory, batch, context, throughput and engine flags for a model on your hardware");
  sub->add_option("-m,--model", f->model, "preset name, FILE.gguf, or a HuggingFace config.json (or its folder); "
                                          "required, except with --all (then a folder of .gguf files, or none: every preset)");
  sub->add_flag("--all", f->all, "one table of every preset (or every .gguf in -m DIR): batch, context per request, throughput");
  sub->add_option("--quant", f->quant, "weight quantization (f16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, ...; default: "
                                       "the GGUF's own, else q4_k_m)");
  sub->add_option("--gpu", f->gpu, "plan for this catalogue GPU instead of the probed hardware (e.g. \"RTX 4090\", cpu); "
                                   "`--gpu list` prints the catalogue");
  sub->add_option("--gpus", f->gpus, "number of such GPUs, layers split evenly")->capture_default_str();
  sub->add_option("--gpu-memory", f->gpu_memory, "a GPU not in the catalogue: memory per GPU, GiB (80, 80G, 80GiB; 80GB = 10^9 "
                                                 "bytes); amends --gpu's entry or the probed GPU (default: theirs)");
  sub->add_option("--gpu-bandwidth", f->gpu_bandwidth_gb_s, "memory bandwidth per GPU, GB/s (default: the catalogue's/probed; a custom GPU needs it)");
  sub->add_option("--gpu-tflops", f->gpu_tflops, "dense FP16 throughput per GPU, TFLOP/s (default: the catalogue's; a custom GPU needs it)");
  sub->add_option("--cpu-cores", f->cpu_cores, "physical CPU cores (default: probed)");
  sub->add_option("--ram", f->ram, "host RAM, GiB (64, 64G; default: probed)");
  add_parallel_option(*sub, f->parallel, "evaluate exactly this many, besides the recommendation (default: none)");
  add_lanes_option(*sub, f->lanes, "plan for exactly this many (0: 1 on a CPU, the fastest the speed model finds on a GPU)");
  sub->add_option("-c,--ctx-size", f->ctx_size, "evaluate exactly this many KV cells, tokens (all sequences together; "
                                                "alone: as many of the workload's requests as it holds; default: none)");
  sub->add_option("--workload", f->workload, "seed (2,000 shared + 50 prompt tokens, 32 out), chat (500/250), long (8,000/500)")
      ->capture_default_str();
  sub->add_option("--prompt-tokens", f->prompt_tokens, "prompt tokens per request (overrides the workload)");
  sub->add_option("--output-tokens", f->output_tokens, "output tokens per request (overrides the workload)");
  sub->add_option("--shared-prefix", f->shared_prefix, "prompt tokens every request shares (overrides the workload)");
  sub->add_option("--kv-type", f->kv_type, "KV cache type of keys and values: f16, q8_0, q4_0")->capture_default_str();
  sub->add_option("--cache-type-k", f->cache_type_k, "(-ctk) KV cache type of the keys (default: --kv-type)");
  sub->add_option("--cache-type-v", f->cache_type_v, "(-ctv) KV cache type of the values (default: --kv-type)");
  sub->add_option("--flash-attn", f->flash_attn, "(-fa) on|off|auto (auto plans with it on)")
      ->check(CLI::IsMember({"on", "off", "auto"}))
      ->capture_default_str();
  sub->add_option("--attention", f->attention,
                  "run's attention on a GPU: cascade (its default where the GPU runs it), sparse (each query over the "
                  "cells it sees; cascade is planned alike: it measured within 2% of sparse) or dense")
      ->check(CLI::IsMember({"cascade", "sparse", "dense"}))
      ->capture_default_str();
  sub->add_option("--max-latency", f->max_latency_s, "latency SLO, seconds per request (0: none)");
  sub->add_option("--ubatch-size", f->ubatch,
                  "(-ub) physical batch, tokens (sizes the compute buffer; 0: run's, 1024 with -b 4096 on one GPU, else 512)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_flag("--no-flash-attn", f->no_flash_attn, "plan without flash attention");
  sub->add_flag("--no-prefix-sharing", f->no_prefix_sharing, "the engine does not share a prefix's KV cells");
  sub->add_flag("--uncalibrated", f->uncalibrated,
                "ignore the speed calibration `batchwise tune` measured on this hardware (default: use it when there is one)");
  sub->add_flag("--json", f->json, "print as JSON (every figure named with its unit)");
  return {sub, [f] { return run_plan(*f); }};
}

}  // namespace batchwise
