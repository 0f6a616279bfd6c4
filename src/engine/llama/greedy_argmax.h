// The greedy token of a row of logits: the index of the largest value, the first one on ties (as
// std::max_element). Written for 128k-entry vocabularies read once from memory: several
// SIMD maxima in one pass, then one scan for the first index holding the maximum.
#pragma once

#include <cstdint>

namespace batchwise {

int32_t greedy_argmax(const float* logits, int32_t n_vocab);

}  // namespace batchwise
