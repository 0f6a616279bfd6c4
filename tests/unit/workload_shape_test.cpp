// Workload presets as the issue defines them, and KV cells with and without a shared prefix.
#include "plan/workload_shape.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(WorkloadShape, PresetsMatchTheirDefinitions) {
  auto seed = workload_preset("seed");
  ASSERT_TRUE(seed);
  EXPECT_EQ(seed->shared_prefix_tokens, 2000);
  EXPECT_EQ(seed->unique_prompt_tokens(), 50);
  EXPECT_EQ(seed->output_tokens, 32);
  EXPECT_EQ(workload_preset("chat")->shared_prefix_tokens, 0);
  EXPECT_EQ(workload_preset("long")->prompt_tokens, 8000);
  EXPECT_FALSE(workload_preset("batch"));
}

TEST(WorkloadShape, SharedPrefixIsCountedOnce) {
  const WorkloadShape seed = *workload_preset("seed");
  EXPECT_EQ(seed.kv_cells_for_batch(100, true), 2000 + 100 * 82);
  EXPECT_EQ(seed.kv_cells_for_batch(100, false), 100 * 2082);
}

TEST(WorkloadShape, ValidationNamesTheFlag) {
  EXPECT_FALSE(validate_workload(WorkloadShape{"x", 0, 0, 0}));
  auto s = validate_workload(WorkloadShape{"x", 100, 200, 10});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("--shared-prefix"), std::string::npos);
}

}  // namespace
}  // namespace batchwise
