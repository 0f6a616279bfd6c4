// Bytes per weight for every ggml type, checked against ggml itself, and the per-tensor type rule
// of llama.cpp's quantizer for the file types plan estimates.
#include "model/weight_types.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "ggml.h"

namespace batchwise {
namespace {

TEST(WeightTypes, EveryTypeHasGgmlsBlockSizeAndBytes) {
  ASSERT_GE(all_weight_types().size(), 30u);
  for (const auto& t : all_weight_types()) {
    const auto id = static_cast<ggml_type>(t.ggml_id);
    EXPECT_EQ(t.block_weights, ggml_blck_size(id)) << t.name;
    EXPECT_EQ(static_cast<size_t>(t.block_bytes), ggml_type_size(id)) << t.name;
    std::string ggml_name = ggml_type_name(id);
    for (auto& c : ggml_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(t.name, ggml_name);
  }
}

TEST(WeightTypes, KQuantsCostWhatTheirBlocksSay) {
  EXPECT_DOUBLE_EQ(parse_weight_type("q4_k")->bits_per_weight(), 4.5);   // 144 bytes / 256 weights
  EXPECT_DOUBLE_EQ(parse_weight_type("Q6_K")->bits_per_weight(), 6.5625);
  EXPECT_DOUBLE_EQ(parse_weight_type("q8_0")->bits_per_weight(), 8.5);
  EXPECT_EQ(parse_weight_type("q4_0")->bytes_for(4096), 4096 / 32 * 18);
  EXPECT_EQ(parse_weight_type("q4_k")->bytes_for(300), 2 * 144) << "a partial block still takes a whole block";
}

TEST(WeightTypes, UnknownIdsAndNamesAreRefused) {
  EXPECT_EQ(weight_type_by_id(4), nullptr) << "Q4_2 was removed from ggml";
  EXPECT_EQ(weight_type_by_id(-1), nullptr);
  EXPECT_EQ(weight_type_by_id(1 << 20), nullptr);
  EXPECT_FALSE(parse_weight_type("q4_9"));
  auto bad = parse_file_type("q4_k_x");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("q4_k_m"), std::string::npos) << "the message lists what is allowed";
}

TEST(WeightTypes, Q4KMGivesSixBitsToOutputAndSomeValueAndDownProjections) {
  const int64_t n_layer = 32;
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "output.weight", -1, n_layer, 4096).name, "q6_k");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.0.attn_v.weight", 0, n_layer, 4096).name, "q6_k");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.5.attn_v.weight", 5, n_layer, 4096).name, "q4_k");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.31.ffn_down.weight", 31, n_layer, 14336).name, "q6_k");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.5.attn_q.weight", 5, n_layer, 4096).name, "q4_k");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.5.attn_norm.weight", 5, n_layer, 4096).name, "f32");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.5.ffn_gate_inp.weight", 5, n_layer, 4096).name, "f32");
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.5.attn_q.weight", 5, n_layer, 48).name, "f16")
      << "rows shorter than any block fall back to f16";
  EXPECT_EQ(tensor_weight_type(FileType::kQ4_K_M, "blk.5.ffn_down_exps.weight", 5, n_layer, 1408).name, "q5_0")
      << "llama.cpp's fallback for 1408-wide rows";
  EXPECT_EQ(tensor_weight_type(FileType::kQ8_0, "output.weight", -1, n_layer, 4096).name, "q8_0");
}

TEST(WeightTypes, FileTypeIdsAreLlamaCpps) {
  EXPECT_EQ(file_type_id(*parse_file_type("q4_k_m")), 15u);
  EXPECT_EQ(file_type_id(*parse_file_type("f16")), 1u);
  EXPECT_EQ(file_type_id(*parse_file_type("q8_0")), 7u);
}

}  // namespace
}  // namespace batchwise
