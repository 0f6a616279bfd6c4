// LlamaEngine: the embedded llama.cpp engine. One model, one or more lanes (LlamaLane: continuous
// batching over one llama_context each, with the shared prompt prefix evaluated once per lane),
// fed from one queue.
//
// Threads: each lane's thread owns its context. A few preparer threads parse, render and tokenize
// requests (the tokenizer is read-only), because a 2,000-token prompt takes milliseconds to
// tokenize. submit() blocks while max_in_flight() requests are queued.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace batchwise {

struct LlamaEngineOptions {
  std::filesystem::path model_path;
  int n_parallel = 64;          // sequences decoded together, over all lanes (256 per lane)
  int n_ctx = 32768;            // KV cells over all lanes, split evenly (one unified cache per lane)
  int lanes = 0;                // llama.cpp contexts over the one model, each with its own thread; 0: on a GPU one
                                // per 128 sequences below 512 (2 to 4), else one per 252 (4 to 16); 1 on a CPU
  int n_batch = 2048;           // tokens per llama_decode call
  int n_ubatch = 512;           // tokens per compute step inside it
  int n_threads = 0;            // per lane; 0: the cores split between lanes
  int prepare_threads = 0;      // threads preparing requests and choosing tokens; 0: half the cores, at most 8
  int n_gpu_layers = 999;       // layers offloaded when a GPU backend is built in
  int prefix_slots = 4;         // sequences kept for shared prefixes
  int min_shared_prefix = 32;   // shorter common prefixes are recomputed, not shared
  int max_request_tokens = 0;   // prompt + max_tokens limit per request; 0: the model's trained context
  bool flash_attention = true;  // llama.cpp's "auto" when true, off when false
  // Each token attends only to the KV cells its own sequence carries (the shared prefix and its own), not to
  // every cell of its lane: our patch of llama.cpp (patches/llama.cpp/) sets a bound on the cells a query sees,
  // and CUDA's flash attention then gathers, per tile of 8 queries, the cells they see together (the prefix
  // once; 128-wide heads). Needs flash attention. On a CPU the masked cells are skipped already, so the two paths
  // compute the same. Unset: sparse where the model's layers are on a GPU (H200, 8B seed: 227.9 req/s against
  // 200.6 dense; each layer's attention as close to the exact one as dense's, docs/run.md), dense elsewhere.
  std::optional<bool> sparse_attention;
  // Cascade attention (our patch 0004): the cells a lane's sequences share at its start (the prompt prefix) are
  // attended to apart from the rest, every query of a step against all of them at once in the kernel's widest
  // tiles, and the rest (sparse where that is on) merged with it exactly by each part's log-sum-exp; the prefix is
  // then read once a tile of 16 tokens, not once a tile of 8. Needs flash attention. Unset: on where sparse is and
  // every GPU runs its node (CUDA's tensor-core kernel: NVIDIA Turing and newer), off elsewhere (docs/run.md).
  std::optional<bool> cascade_attention;
  // --chat-template: a built-in template's name or a file (chat_template.h); empty: the GGUF's own.
  std::string chat_template;
  std::string cache_type_k = "f16";  // KV cache types by ggml's names (f16, q8_0, q4_0, ...)
  std::string cache_type_v = "f16";
  // Greedy requests take their argmax inside llama.cpp's graph (backend sampling), so a decode step
  // copies one token per sequence to the host instead of a row of logits (128k floats for Llama 3).
  // Requests that sample or ask for logprobs still get their logits.
  bool device_sampling = false;
  // One copy of the model per listed GPU (`--gpus`), each with `lanes` lanes, `n_parallel` sequences and
  // `n_ctx` KV cells of its own, all fed from one queue: N GPUs, about N times the throughput of one, for a
  // model that fits one GPU. Empty: one copy, placed by llama.cpp (its layers split over every GPU).
  // -1 puts a copy on the CPU: the same bookkeeping without a GPU (tests).
  std::vector<int> gpus;
};

// The GPUs llama.cpp sees (0 in a build without CUDA), without loading a model.
int visible_gpu_count();

// "all" -> every GPU llama.cpp sees; "0,1" -> those. Errors name the GPUs there are.
Expected<std::vector<int>> parse_gpu_list(const std::string& text);

// Loads the model and creates the context; errors name the file and what to do.
Expected<std::unique_ptr<Engine>> make_llama_engine(const LlamaEngineOptions& options);

}  // namespace batchwise
