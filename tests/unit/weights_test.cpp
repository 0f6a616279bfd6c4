// Weight bytes against published GGUF file sizes (bartowski's Meta-Llama-3.1-8B-Instruct: Q4_K_M
// 4.92 GB, Q8_0 8.54 GB, F16 16.07 GB; the header adds a few MB), and the estimate for a file type
// against the exact sum of a GGUF written with that type.
#include "model/weights.h"

#include <gtest/gtest.h>

#include "model/model_source.h"
#include "sparse_gguf.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(Weights, Llama8BMatchesPublishedFileSizes) {
  const ModelSpec spec = *find_preset("llama-3.1-8b");
  EXPECT_NEAR(estimate_weights(spec, FileType::kQ4_K_M).total_bytes / 1e9, 4.92, 0.05);
  EXPECT_NEAR(estimate_weights(spec, FileType::kQ8_0).total_bytes / 1e9, 8.54, 0.05);
  EXPECT_NEAR(estimate_weights(spec, FileType::kF16).total_bytes / 1e9, 16.07, 0.05);
}

TEST(Weights, PartsAddUpAndNameTheirTypes) {
  const ModelSpec spec = *find_preset("mixtral-8x7b");
  const WeightsSummary w = estimate_weights(spec, FileType::kQ4_K_M);
  int64_t by_type = 0;
  for (const auto& [type, bytes] : w.bytes_by_type) by_type += bytes;
  EXPECT_EQ(by_type, w.total_bytes);
  EXPECT_EQ(w.parameter_count, spec.parameter_count());
  EXPECT_GT(w.routed_expert_bytes, w.total_bytes * 9 / 10) << "Mixtral is mostly experts";
  EXPECT_GT(w.output_bytes, 0);
  EXPECT_GT(w.bytes_by_type.at("q8_0"), 0) << "8-expert models get q8_0 attn_v/attn_k";
}

TEST(Weights, EstimateEqualsTheExactSumOfAFileOfThatType) {
  ModelSpec spec = *find_preset("qwen2.5-7b");
  spec.vocab_size = test::vocab_tokens("qwen2");
  const auto path = test::scratch_dir() / "q.gguf";
  ASSERT_EQ(test::write_sparse_gguf(spec, FileType::kQ5_K_M, path), "");
  auto header = read_gguf_header(path);
  ASSERT_TRUE(header) << header.error().message;
  const WeightsSummary exact = weights_from_gguf(*header);
  const WeightsSummary estimate = estimate_weights(spec, FileType::kQ5_K_M);
  EXPECT_EQ(exact.total_bytes, estimate.total_bytes);
  EXPECT_EQ(exact.bytes_by_type, estimate.bytes_by_type);
  EXPECT_EQ(exact.token_embd_bytes, estimate.token_embd_bytes);
}

}  // namespace
}  // namespace batchwise
