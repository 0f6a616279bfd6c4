#include "engine/llama/token_logprobs.h"

#include <algorithm>
#include <cmath>

namespace batchwise {

TokenLogprobs token_logprobs(const float* logits, int32_t n_vocab, int32_t chosen, int32_t n_top) {
  float max = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  TokenLogprobs out;
  out.token = chosen;
  // A failed sampler gives -1: no token to score (reading logits[-1] would be out of bounds).
  out.logprob = chosen >= 0 && chosen < n_vocab ? logits[chosen] - log_z : -INFINITY;
  // Keep the n_top largest in a small sorted buffer.
  auto& top = out.top;
  for (int32_t i = 0; i < n_vocab && n_top > 0; ++i) {
    if (static_cast<int32_t>(top.size()) == n_top && logits[i] <= top.back().second) continue;
    auto at = std::upper_bound(top.begin(), top.end(), logits[i], [](float v, const auto& e) { return v > e.second; });
    top.insert(at, {i, logits[i]});
    if (static_cast<int32_t>(top.size()) > n_top) top.pop_back();
  }
  for (auto& [token, value] : top) value -= log_z;
  return out;
}

}  // namespace batchwise
