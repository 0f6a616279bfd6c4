// Presets reproduce the published parameter counts of the models they copy, total and active, and
// the sliding-window layer pattern is llama.cpp's.
#include "model/model_spec.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

// Published counts (model cards): Mixtral 8x7B 46.7B total / 12.9B active; Qwen3-30B-A3B 30.5B / 3.3B;
// DeepSeek-V2-Lite 15.7B / 2.4B (DeepSeek leaves the input embedding out of "activated": 2.66B with it); Gemma 2 9B 9.24B; Llama 3.1 70B 70.6B; Qwen3 8B 8.2B.
TEST(ModelSpec, PresetsHaveThePublishedTotalAndActiveParameters) {
  struct Want {
    const char* name;
    double total, active, tolerance;
  };
  const Want wants[] = {{"mixtral-8x7b", 46.7e9, 12.9e9, 0.01},  {"qwen3-30b-a3b", 30.5e9, 3.3e9, 0.03},
                        {"deepseek-v2-lite", 15.7e9, 2.66e9, 0.03}, {"gemma-2-9b", 9.24e9, 9.24e9, 0.01},
                        {"llama-3.1-70b", 70.6e9, 70.6e9, 0.01},  {"qwen3-8b", 8.19e9, 8.19e9, 0.01}};
  for (const auto& w : wants) {
    auto spec = find_preset(w.name);
    ASSERT_TRUE(spec) << w.name;
    EXPECT_TRUE(spec->validate()) << w.name;
    EXPECT_NEAR(static_cast<double>(spec->parameter_count()), w.total, w.total * w.tolerance) << w.name;
    EXPECT_NEAR(static_cast<double>(spec->active_parameter_count()), w.active, w.active * w.tolerance) << w.name;
  }
}

TEST(ModelSpec, SlidingWindowLayersFollowLlamaCppsPattern) {
  auto gemma2 = find_preset("gemma-2-9b");
  ASSERT_TRUE(gemma2);
  EXPECT_TRUE(gemma2->is_swa_layer(0));
  EXPECT_FALSE(gemma2->is_swa_layer(1));
  EXPECT_EQ(gemma2->n_layer_swa(), 21);
  auto gemma3 = find_preset("gemma-3-12b");
  ASSERT_TRUE(gemma3);
  EXPECT_EQ(gemma3->n_layer_swa(), 40) << "5 of every 6 of 48 layers";
  auto llama = find_preset("llama-3.1-8b");
  ASSERT_TRUE(llama);
  EXPECT_EQ(llama->n_layer_swa(), 0);
}

TEST(ModelSpec, ValidateNamesTheBadField) {
  auto spec = find_preset("llama-3.1-8b");
  ASSERT_TRUE(spec);
  spec->n_head_kv = 7;
  auto s = spec->validate();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("n_head_kv"), std::string::npos);
}

TEST(ModelSpec, UnknownPresetSuggestsCloseNames) {
  auto spec = find_preset("mixtral-8x7");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("mixtral-8x7b"), std::string::npos) << spec.error().message;
}

}  // namespace
}  // namespace batchwise
