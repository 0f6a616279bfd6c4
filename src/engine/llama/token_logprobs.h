// Log-probabilities of a chosen token and of the most likely alternatives, from one row of logits,
// in one pass over the vocabulary (no sort of 128k entries).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace batchwise {

struct TokenLogprobs {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // (token, logprob), most likely first
};

TokenLogprobs token_logprobs(const float* logits, int32_t n_vocab, int32_t chosen, int32_t n_top);

}  // namespace batchwise
