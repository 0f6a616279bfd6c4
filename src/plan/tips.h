// Tips for this model on this machine (seed 000's "memory management tips"), each derived from the
// plan by re-planning one setting differently: the KV cache type, the context a request may have,
// flash attention, run's second lane on a GPU, the weights' quantization, and whether a second model
// fits beside the first. A tip appears only where its figures say something; none is a fixed text.
// Pure: re-runs the recommender, loads nothing.
#pragma once

#include <string>
#include <vector>

#include "plan/recommend.h"

namespace batchwise {

struct Tip {
  std::string topic;   // "kv cache", "context", "flash attention", "lanes", "quantization", "second model"
  std::string text;
};

// `in` and `r` are the plan's input and recommendation; `quant` its weights' name ("q4_k_m", "f16").
std::vector<Tip> plan_tips(const RecommendInput& in, const Recommendation& r, const std::string& quant);

}  // namespace batchwise
