// Token choice for the embedded engine, on the host or inside llama.cpp's graph.
//
// Host: a request's own sampler chain (temperature/top-k/top-p/seed) applied to its row of logits,
// or the greedy argmax; safe to run for different sequences on different threads at once, since
// each sequence owns its chain and scratch space and nothing here touches the llama_context.
//
// Device: DeviceSamplers keeps one greedy chain per sequence id attached to the context, so that a
// decode step returns one token per sequence instead of a 128k-float row. llama.cpp initialises a
// chain when it is attached and refuses to do so twice, so re-attaching uses a fresh chain; attached
// chains must outlive the context (declare DeviceSamplers before the context that uses them).
// Part of the llama.cpp adapter (includes llama.h).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/llama/generation_params.h"
#include "engine/llama/llama_handles.h"
#include "llama.h"

namespace batchwise {

// A sampling chain for a request that does not decode greedily or follows a grammar; without a seed
// the request's key seeds it, so a re-run of a batch samples the same text. With a grammar
// (params.grammar) the chain masks every token the grammar forbids first, then picks greedily or
// samples; null if llama.cpp cannot parse the grammar.
SamplerPtr make_request_sampler(const GenerationParams& params, uint64_t key, const llama_vocab* vocab);

// The next token from one row of logits: `chain` null means greedy. `scratch` is reused between
// calls (no allocation per token once it has grown).
llama_token sample_row(llama_sampler* chain, const float* logits, int32_t n_vocab,
                       std::vector<llama_token_data>& scratch);

class DeviceSamplers {
 public:
  DeviceSamplers() = default;
  explicit DeviceSamplers(int n_sequences);  // attached: one greedy chain per sequence id

  bool enabled() const { return !chains_.empty() && !failed_; }
  // What llama_context_params.samplers takes, so the graph has them from the start.
  std::vector<llama_sampler_seq_config> configs() const;

  // Attaches (greedy on the device) or detaches (logits to the host) sequence `id`.
  void set(llama_context* ctx, llama_seq_id id, bool on);

  // llama.cpp gave no device token: detach every sequence and stay on the host from now on.
  void disable(llama_context* ctx);

 private:
  std::vector<SamplerPtr> chains_;   // by sequence id: the one attached, or last attached
  std::vector<bool> attached_;
  bool failed_ = false;
};

}  // namespace batchwise
