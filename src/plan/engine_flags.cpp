#include "plan/engine_flags.h"

#include <algorithm>
#include <cmath>

#include "core/units.h"

namespace batchwise {
namespace {

std::string s(int64_t v) { return std::to_string(v); }

}  // namespace

std::string EngineFlags::command_line() const {
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::vector<EngineFlags> engine_flags(const RecommendInput& in, const BatchChoice& choice) {
  const WorkloadShape& w = in.workload;
  const ContextConfig& ctx = in.base;
  const int64_t per_request = padded_context(static_cast<int64_t>(std::ceil(w.request_context_tokens() * 1.05)));
  const std::string k(ctx.k_type.name), v(ctx.v_type.name);
  const bool gpu = in.device.is_gpu();
  const bool shared = in.share_prefix && w.shared_prefix_tokens > 0;
  std::vector<EngineFlags> out;

  EngineFlags bw{"batchwise", {}, ""};
  // llama.cpp's spellings, which run takes as well; the KV type only where it is not run's default. The
  // lanes always: run's default differs between a CPU and a GPU, and the memory above is for these.
  bw.args = {"-np", s(choice.batch), "-c", s(choice.context_tokens), "--lanes", s(choice.lanes), "-b", s(ctx.n_batch_tokens),
             "-ub", s(ctx.n_ubatch_tokens)};
  if (k != "f16" || v != "f16") bw.args.insert(bw.args.end(), {"-ctk", k, "-ctv", v});
  if (gpu) bw.args.insert(bw.args.end(), {"-ngl", "999"});
  if (!ctx.flash_attention) bw.args.insert(bw.args.end(), {"-fa", "off"});
  bw.note = "batchwise run shares the prefix's KV cells across the sequences of a lane; each of the " + s(choice.lanes) +
            " lanes holds it once, with " + s(choice.context_tokens / std::max<int64_t>(1, choice.lanes)) + " cells";
  out.push_back(bw);

  // llama-server keeps each slot's prompt in that slot's own cells (it does not share a prefix's cells
  // between slots, -kvu or not): -c must hold -np whole requests, and each slot then gets -c / -np.
  EngineFlags ls{"llama-server", {}, ""};
  const int64_t server_cells = choice.batch * per_request;
  ls.args = {"-c", s(server_cells), "-np", s(choice.batch), "-b", s(ctx.n_batch_tokens), "-ub",
             s(ctx.n_ubatch_tokens), "-ctk", k, "-ctv", v, "-fa", ctx.flash_attention ? "on" : "off", "-ngl",
             gpu ? "999" : "0", "--cache-ram", "0"};
  // --cache-ram 0, as `run --endpoint` advises: the host prompt cache copies a slot's KV cache on many
  // requests, which slows a batch job; slots still reuse a prefix that is in their cells.
  ContextConfig server = ctx;
  server.n_ctx_tokens = server_cells;
  server.n_seq = choice.batch;
  server.kv_unified = false;
  const MemoryEstimate m = estimate_memory(in.spec, in.weights, server, gpu);
  ls.note = "each slot gets -c / -np = " + s(per_request) + " cells: llama-server holds every slot's copy of the prompt" +
            (shared ? " (the shared prefix too)" : "") + ", so its KV cache is " + format_gib(m.device.kv_cache_bytes) +
            " (" + format_gib(m.device.total_bytes()) + " in all); --cache-ram 0: the host prompt cache copies KV cells on "
            "many requests (slower for batch jobs)";
  out.push_back(ls);

  EngineFlags vl{"vllm", {}, ""};
  vl.args = {"--max-num-seqs", s(choice.batch), "--max-num-batched-tokens",
             s(std::max<int64_t>(8192, w.prompt_tokens)), "--max-model-len", s(per_request),
             "--gpu-memory-utilization", "0.90"};
  if (shared) vl.args.push_back("--enable-prefix-caching");
  if (k != "f16") vl.args.insert(vl.args.end(), {"--kv-cache-dtype", "fp8"});
  vl.note = "vLLM sizes its KV pool from --gpu-memory-utilization; weights must be in a format it loads";
  out.push_back(vl);

  EngineFlags sg{"sglang", {}, ""};
  sg.args = {"--max-running-requests", s(choice.batch), "--mem-fraction-static", "0.85", "--context-length",
             s(per_request), "--chunked-prefill-size", "8192"};
  if (!shared) sg.args.push_back("--disable-radix-cache");
  sg.note = shared ? "SGLang's radix cache shares the prefix (on by default)" : "";
  out.push_back(sg);

  EngineFlags ol{"ollama", {}, ""};
  ol.args = {"OLLAMA_NUM_PARALLEL=" + s(choice.batch), "OLLAMA_FLASH_ATTENTION=" + std::string(ctx.flash_attention ? "1" : "0"),
             "num_ctx=" + s(per_request)};
  if (k != "f16") ol.args.push_back("OLLAMA_KV_CACHE_TYPE=" + k);
  ol.note = "Ollama allocates num_ctx x OLLAMA_NUM_PARALLEL cells and does not share prefixes across slots";
  out.push_back(ol);
  return out;
}

}  // namespace batchwise
