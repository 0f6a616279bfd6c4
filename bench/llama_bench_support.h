// Shared by the llama.cpp step benchmarks (attention_step_bench, attention_logits_check): a batch that frees
// itself, a decode that waits for the device, and the seed lane's shape laid out as batchwise's lanes lay it
// out — S sequences share a P-token prefix (its cells copied to each from a prefix sequence), each then has O
// tokens of its own. Tokens are drawn from a seeded generator, so two contexts given the same seed hold the same.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "llama.h"

namespace bench {

// Starts (true) or stops a profiler's capture where the profiler was started with --profile-from-start off
// (ncu): CUDA's driver API cuProfilerStart/Stop, looked up at run time so a CPU build needs no CUDA. Does
// nothing where there is no libcuda. Call it on the thread that decodes (the one with the CUDA context).
inline void cuda_profiler(bool start) {
  static void* lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (lib == nullptr) return;
  using Fn = int (*)();
  if (auto fn = reinterpret_cast<Fn>(dlsym(lib, start ? "cuProfilerStart" : "cuProfilerStop"))) fn();
}

struct Batch {
  llama_batch b;
  explicit Batch(int n) : b(llama_batch_init(n, 0, 1)) {}
  ~Batch() { llama_batch_free(b); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  void clear() { b.n_tokens = 0; }
  void add(llama_token t, llama_pos pos, llama_seq_id seq, bool logits) {
    const int i = b.n_tokens++;
    b.token[i] = t, b.pos[i] = pos, b.n_seq_id[i] = 1, b.seq_id[i][0] = seq, b.logits[i] = logits;
  }
};

inline bool decode(llama_context* ctx, Batch& batch) {
  const int rc = llama_decode(ctx, batch.b);
  if (rc != 0) std::fprintf(stderr, "llama_decode returned %d\n", rc);
  llama_synchronize(ctx);
  return rc == 0;
}

// Evaluates `n` tokens of `seq` from position `pos0`, in chunks of `chunk`.
inline bool prefill(llama_context* ctx, Batch& batch, std::mt19937& rng, int n_vocab, llama_seq_id seq, int pos0, int n,
                    int chunk) {
  for (int done = 0; done < n;) {
    batch.clear();
    const int m = std::min(chunk, n - done);
    for (int k = 0; k < m; ++k) {
      batch.add(static_cast<llama_token>(rng() % n_vocab), pos0 + done + k, seq, done + k + 1 == n);
    }
    if (!decode(ctx, batch)) return false;
    done += m;
  }
  return true;
}

// The seed lane: sequences 0..S-1 are requests, S holds the prefix (a prefix slot). Returns each sequence's next
// position (P + O), or an empty vector if a decode failed.
inline std::vector<int> fill_seed_lane(llama_context* ctx, Batch& batch, std::mt19937& rng, int n_vocab, int n_seq,
                                       int n_prefix, int n_own) {
  const llama_seq_id prefix_seq = n_seq;
  if (!prefill(ctx, batch, rng, n_vocab, prefix_seq, 0, n_prefix, 1024)) return {};
  llama_memory_t mem = llama_get_memory(ctx);
  for (int s = 0; s < n_seq; ++s) llama_memory_seq_cp(mem, prefix_seq, s, 0, n_prefix);
  // Each request's own tokens, 16 requests per llama_decode.
  for (int s0 = 0; s0 < n_seq; s0 += 16) {
    batch.clear();
    for (int s = s0; s < std::min(n_seq, s0 + 16); ++s) {
      for (int k = 0; k < n_own; ++k) batch.add(static_cast<llama_token>(rng() % n_vocab), n_prefix + k, s, false);
    }
    if (!decode(ctx, batch)) return {};
  }
  return std::vector<int>(static_cast<size_t>(n_seq), n_prefix + n_own);
}

inline std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::atoi(item.c_str()));
  return out;
}

// Initializes llama.cpp (warnings and errors only on stderr) and loads `path` with every layer on the GPU when
// there is one; nullptr if it cannot.
inline llama_model* load_model(const char* path) {
  llama_log_set([](ggml_log_level level, const char* text, void*) {
    if (level >= GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
  }, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 999;
  return llama_model_load_from_file(path, mp);
}

}  // namespace bench
