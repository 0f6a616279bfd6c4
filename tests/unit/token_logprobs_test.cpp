#include "engine/llama/token_logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace batchwise {
namespace {

TEST(TokenLogprobs, MatchesLogSoftmaxAndOrdersTheTop) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f, 3.5f};
  double z = 0;
  for (float l : logits) z += std::exp(l);
  const auto lp = token_logprobs(logits.data(), 5, 1, 3);
  EXPECT_NEAR(lp.logprob, 3.0 - std::log(z), 1e-5);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 4);
  EXPECT_EQ(lp.top[1].first, 1);
  EXPECT_EQ(lp.top[2].first, 2);
  EXPECT_NEAR(lp.top[0].second, 3.5 - std::log(z), 1e-5);
  EXPECT_TRUE(token_logprobs(logits.data(), 5, 0, 0).top.empty());
}

}  // namespace
}  // namespace batchwise
