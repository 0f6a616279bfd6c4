#include "engine/llama/greedy_argmax.h"

#include <algorithm>
#include <limits>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace batchwise {
namespace {

constexpr float kLow = -std::numeric_limits<float>::infinity();

// The maximum of logits[0, n): four SSE registers of running maxima on x86-64 (where SSE is the
// baseline; a plain loop with a running maximum does not vectorise), a scalar loop elsewhere.
float row_max(const float* logits, int32_t n) {
  int32_t i = 0;
  float best = kLow;
#if defined(__SSE__)
  __m128 m0 = _mm_set1_ps(kLow), m1 = m0, m2 = m0, m3 = m0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm_max_ps(m0, _mm_loadu_ps(logits + i));
    m1 = _mm_max_ps(m1, _mm_loadu_ps(logits + i + 4));
    m2 = _mm_max_ps(m2, _mm_loadu_ps(logits + i + 8));
    m3 = _mm_max_ps(m3, _mm_loadu_ps(logits + i + 12));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_max_ps(_mm_max_ps(m0, m1), _mm_max_ps(m2, m3)));
  best = std::max({lanes[0], lanes[1], lanes[2], lanes[3]});
#endif
  for (; i < n; ++i) best = std::max(best, logits[i]);
  return best;
}

}  // namespace

int32_t greedy_argmax(const float* logits, int32_t n_vocab) {
  if (n_vocab <= 0) return -1;
  const float best = row_max(logits, n_vocab);
  for (int32_t k = 0; k < n_vocab; ++k) {
    if (logits[k] == best) return k;
  }
  // Only NaNs: the library's answer.
  return static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
}

}  // namespace batchwise
