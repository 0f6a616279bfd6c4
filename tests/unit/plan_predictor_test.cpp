// tune's predictions are plan's at each trial's own settings: the run flags a trial passes reach plan's request.
#include "tune/plan_predictor.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(PlanPredictor, ATrialsRunFlagsReachPlansRequest) {
  PlanRequest req;
  apply_run_flags({"-ub", "1024", "-ctk", "q8_0", "--attention", "dense", "-fa", "off", "--lanes", "4"}, req);
  EXPECT_EQ(req.ubatch_tokens, 1024);
  ASSERT_TRUE(req.k_type);
  EXPECT_EQ(*req.k_type, "q8_0");
  EXPECT_FALSE(req.sparse_attention) << "--attention dense: plan models llama.cpp's dense attention";
  EXPECT_FALSE(req.flash_attention);

  PlanRequest defaults;
  apply_run_flags({"--attention", "cascade"}, defaults);
  EXPECT_TRUE(defaults.sparse_attention) << "--attention cascade is planned as sparse";
  EXPECT_TRUE(defaults.flash_attention);
  EXPECT_FALSE(defaults.ubatch_tokens) << "unset: plan takes what run would";
}

}  // namespace
}  // namespace batchwise
