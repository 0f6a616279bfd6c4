#include "engine/llama/llama_samplers.h"

#include "engine/llama/greedy_argmax.h"

namespace batchwise {
namespace {

SamplerPtr greedy_chain() {
  SamplerPtr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
  return chain;
}

}  // namespace

SamplerPtr make_request_sampler(const GenerationParams& params, uint64_t key, const llama_vocab* vocab) {
  SamplerPtr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
  if (!params.grammar.empty()) {
    llama_sampler* grammar = llama_sampler_init_grammar(vocab, params.grammar.c_str(), "root");
    if (grammar == nullptr) return nullptr;
    llama_sampler_chain_add(chain.get(), grammar);
    if (params.greedy()) {
      llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
      return chain;
    }
  }
  if (params.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(params.top_k));
  if (params.top_p < 1.0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(static_cast<float>(params.top_p), 1));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(static_cast<float>(params.temperature)));
  const uint64_t seed = params.seed.value_or(key * 0x9e3779b97f4a7c15ULL);
  llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(static_cast<uint32_t>(seed ^ (seed >> 32))));
  return chain;
}

llama_token sample_row(llama_sampler* chain, const float* logits, int32_t n_vocab,
                       std::vector<llama_token_data>& scratch) {
  if (chain == nullptr) return greedy_argmax(logits, n_vocab);
  scratch.resize(static_cast<size_t>(n_vocab));
  for (int32_t t = 0; t < n_vocab; ++t) scratch[static_cast<size_t>(t)] = {t, logits[t], 0.0f};
  llama_token_data_array candidates{scratch.data(), scratch.size(), -1, false};
  llama_sampler_apply(chain, &candidates);
  if (candidates.selected < 0 || candidates.selected >= static_cast<int64_t>(candidates.size)) return -1;
  const llama_token token = candidates.data[candidates.selected].id;
  llama_sampler_accept(chain, token);
  return token;
}

DeviceSamplers::DeviceSamplers(int n_sequences) {
  for (int id = 0; id < n_sequences; ++id) chains_.push_back(greedy_chain());
  attached_.assign(chains_.size(), true);
}

std::vector<llama_sampler_seq_config> DeviceSamplers::configs() const {
  std::vector<llama_sampler_seq_config> out;
  for (size_t id = 0; id < chains_.size(); ++id) out.push_back({static_cast<llama_seq_id>(id), chains_[id].get()});
  return out;
}

void DeviceSamplers::set(llama_context* ctx, llama_seq_id id, bool on) {
  if (chains_.empty() || id < 0 || static_cast<size_t>(id) >= chains_.size()) return;
  on = on && !failed_;
  if (attached_[id] == on) return;
  // The old chain was detached when this id last took a sampled request, which then ran to its end:
  // llama.cpp has rebuilt its graph since and no longer points to it, so it can go. Keeping every
  // detached chain would grow (with its device buffers) for as long as a mixed batch runs.
  if (on) chains_[id] = greedy_chain();
  llama_set_sampler(ctx, id, on ? chains_[id].get() : nullptr);
  attached_[id] = on;
}

void DeviceSamplers::disable(llama_context* ctx) {
  for (size_t id = 0; id < chains_.size(); ++id) set(ctx, static_cast<llama_seq_id>(id), false);
  failed_ = true;
}

}  // namespace batchwise
