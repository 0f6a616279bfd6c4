// attention_step_bench: where one lane's decode step goes at the seed workload's shape, as a function of the
// KV cells in use. S sequences share a P-token prefix (its cells copied to each, as batchwise's lanes do), each
// has O tokens of its own, then every step decodes one token per sequence. Extra cells held by a filler
// sequence that no query can see raise n_kv while the work each token should do stays the same: a step whose
// time grows with them is attending to cells it cannot see. Each setting runs with dense attention (every cell,
// masked), sparse (our llama.cpp patch: the cells each query's sequence carries) and cascade (patch 0004: the
// shared prefix apart, every query against it at once, merged with the sparse rest).
//
//   attention_step_bench MODEL.gguf [S=128] [P=2048] [O=52] [STEPS=16] [FILLER=0,4096,8192,16384]
//   (ATTENTION=dense, sparse or cascade: that path only; PROFILE_STEP=1: only the last timed step of each setting is
//   captured by a profiler started with --profile-from-start off, e.g. ncu: bench/gpu/step_profile_h200.sh;
//   PROMPTS_A_STEP=K: each step also carries K new requests' O prompt tokens, sharing the prefix, as a run's lane
//   step does — at the seed's 52 prompt and 32 output tokens a lane of S sequences starts S/32 requests a step)
//
// Prints one JSON line per (filler, attention): step time split into llama_decode's host parts (graph, inputs,
// launch) and the wait for the device, in milliseconds per step.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "llama.h"
#include "llama_bench_support.h"

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [SEQUENCES=128] [PREFIX=2048] [OWN=52] [STEPS=16] [FILLER=0,4096,8192,16384]\n", argv[0]);
    return 2;
  }
  const int n_seq = argc > 2 ? std::atoi(argv[2]) : 128;
  const int n_prefix = argc > 3 ? std::atoi(argv[3]) : 2048;
  const int n_own = argc > 4 ? std::atoi(argv[4]) : 52;
  const int n_steps = argc > 5 ? std::atoi(argv[5]) : 16;
  const std::vector<int> fillers = bench::parse_list(argc > 6 ? argv[6] : "0,4096,8192,16384");
  const int max_filler = *std::max_element(fillers.begin(), fillers.end());
  const int n_prompts = std::getenv("PROMPTS_A_STEP") != nullptr ? std::atoi(std::getenv("PROMPTS_A_STEP")) : 0;

  llama_model* model = bench::load_model(argv[1]);
  if (model == nullptr) return 1;
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

  // Sequences 0..S-1 are requests, S holds the prefix (a prefix slot), S+1 the filler, S+2.. the new requests a
  // step's prompt tokens belong to.
  const llama_seq_id prefix_seq = n_seq, filler_seq = n_seq + 1, first_prompt_seq = n_seq + 2;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(n_prefix + (n_seq + n_prompts) * (n_own + n_steps * 4 + 8) + max_filler + 4096);
  cp.n_batch = 4096;
  cp.n_ubatch = 1024;
  cp.n_seq_max = static_cast<uint32_t>(n_seq + 2 + n_prompts);
  cp.kv_unified = true;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
  cp.no_perf = true;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (ctx == nullptr) return 1;

  std::mt19937 rng(1);
  bench::Batch batch(4096);
  std::vector<int> pos = bench::fill_seed_lane(ctx, batch, rng, n_vocab, n_seq, n_prefix, n_own);
  if (pos.empty()) return 1;
  llama_memory_t mem = llama_get_memory(ctx);

  for (int filler : fillers) {
    llama_memory_seq_rm(mem, filler_seq, -1, -1);
    if (filler > 0 && !bench::prefill(ctx, batch, rng, n_vocab, filler_seq, 0, filler, 1024)) return 1;
    // ATTENTION=dense, sparse or cascade runs only that one (a profiler then sees one path).
    const char* only = std::getenv("ATTENTION");
    for (const std::string path : {"dense", "sparse", "cascade"}) {
      if (only != nullptr && std::string(only) != path) continue;
      llama_set_sparse_kv_attention(ctx, path != "dense");
      llama_set_cascade_attention(ctx, path == "cascade");
      auto step = [&] {
        batch.clear();
        for (int s = 0; s < n_seq; ++s) batch.add(static_cast<llama_token>(rng() % n_vocab), pos[s]++, s, true);
        // The new requests: the last step's taken out, the prefix copied in, their prompt tokens in this step.
        for (int r = 0; r < n_prompts; ++r) {
          const llama_seq_id seq = first_prompt_seq + r;
          llama_memory_seq_rm(mem, seq, -1, -1);
          llama_memory_seq_cp(mem, prefix_seq, seq, 0, n_prefix);
          for (int k = 0; k < n_own; ++k) {
            batch.add(static_cast<llama_token>(rng() % n_vocab), n_prefix + k, seq, k + 1 == n_own);
          }
        }
        const double t0 = now_ms();
        const int rc = llama_decode(ctx, batch.b);
        const double t1 = now_ms();
        llama_synchronize(ctx);
        const double t2 = now_ms();
        return rc == 0 ? std::make_pair(t1 - t0, t2 - t1) : std::make_pair(-1.0, -1.0);
      };
      if (step().first < 0) return 1;  // warm-up: the graph for this setting is built once
      const llama_decode_timings before = llama_get_decode_timings(ctx);
      double call_ms = 0, wait_ms = 0;
      int timed = 0;
      llama_decode_timings after{};
      const bool profile_last = std::getenv("PROFILE_STEP") != nullptr;
      for (int i = 0; i < n_steps; ++i) {
        const bool profiled = profile_last && i == n_steps - 1;
        if (profiled) {  // after the timings: a profiled step runs slower
          const llama_decode_timings unprofiled = llama_get_decode_timings(ctx);
          bench::cuda_profiler(true);
          const bool ok = step().first >= 0;
          bench::cuda_profiler(false);
          if (!ok) return 1;
          after = unprofiled;
          break;
        }
        const auto [c, w] = step();
        if (c < 0) return 1;
        call_ms += c, wait_ms += w;
        ++timed;
      }
      if (!profile_last) after = llama_get_decode_timings(ctx);
      const double n = std::max(1, timed);
      std::printf("{\"sequences\": %d, \"prefix\": %d, \"own\": %d, \"prompts_a_step\": %d, \"filler_cells\": %d, "
                  "\"attention\": \"%s\", "
                  "\"step_ms\": %.3f, \"decode_call_ms\": %.3f, \"graph_ms\": %.3f, \"inputs_ms\": %.3f, "
                  "\"launch_ms\": %.3f, \"wait_ms\": %.3f, \"graphs_reused\": %lld}\n",
                  n_seq, n_prefix, n_own, n_prompts, filler, path.c_str(), (call_ms + wait_ms) / n, call_ms / n,
                  (after.t_graph_us - before.t_graph_us) / 1e3 / n, (after.t_inputs_us - before.t_inputs_us) / 1e3 / n,
                  (after.t_compute_us - before.t_compute_us) / 1e3 / n, wait_ms / n,
                  static_cast<long long>(after.n_reused - before.n_reused));
      std::fflush(stdout);
    }
  }
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
