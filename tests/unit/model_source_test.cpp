// `--model` resolution: a GGUF's header gives back the shapes it was written with and its exact
// weight bytes; a config.json gives the shapes HuggingFace publishes; names resolve to presets.
#include "model/model_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sparse_gguf.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(ModelSource, GgufHeaderGivesBackTheShapesOfEveryArchitecture) {
  const auto dir = test::scratch_dir();
  for (const char* name : {"qwen2.5-7b", "gemma-2-9b", "mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v2-lite"}) {
    auto spec = find_preset(name);
    ASSERT_TRUE(spec);
    spec->vocab = "llama-bpe";
    spec->vocab_size = test::vocab_tokens("llama-bpe");
    const auto path = dir / (std::string(name) + ".gguf");
    ASSERT_EQ(test::write_sparse_gguf(*spec, FileType::kQ4_K_M, path), "");
    auto info = load_model_info(path.string());
    ASSERT_TRUE(info) << name << ": " << info.error().message;
    const ModelSpec& got = info->spec;
    EXPECT_EQ(info->source, "gguf");
    EXPECT_EQ(got.architecture, spec->architecture) << name;
    EXPECT_EQ(got.n_layer, spec->n_layer) << name;
    EXPECT_EQ(got.n_embd, spec->n_embd) << name;
    EXPECT_EQ(got.vocab_size, spec->vocab_size) << name;
    EXPECT_EQ(got.sliding_window, spec->sliding_window) << name;
    EXPECT_EQ(got.n_layer_swa(), spec->n_layer_swa()) << name;
    EXPECT_EQ(got.n_expert, spec->n_expert) << name;
    EXPECT_EQ(got.n_expert_used, spec->n_expert_used) << name;
    EXPECT_EQ(got.kv_lora_rank, spec->kv_lora_rank) << name;
    EXPECT_EQ(got.tied_embeddings, spec->tied_embeddings) << name;
    EXPECT_EQ(got.attention_bias, spec->attention_bias) << name;
    EXPECT_EQ(got.parameter_count(), spec->parameter_count()) << name;
    ASSERT_TRUE(info->file_weights);
    EXPECT_EQ(info->file_weights->total_bytes, estimate_weights(*spec, FileType::kQ4_K_M).total_bytes) << name;
    EXPECT_NEAR(info->file_weights->bits_per_weight(), 4.9, 0.5) << name << ": q4_k_m is about 4.5-5.5 bits";
    ASSERT_TRUE(info->file_type);
    EXPECT_EQ(file_type_name(*info->file_type), "q4_k_m");
  }
}

// config.json of meta-llama/Llama-3.1-8B and mistralai/Mixtral-8x7B-v0.1 (fields as published).
TEST(ModelSource, HuggingFaceConfigGivesThePresetsShapes) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "config.json", R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072, "rope_theta": 500000.0,
    "rms_norm_eps": 1e-05, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
  auto info = load_model_info(dir.string());
  ASSERT_TRUE(info) << info.error().message;
  auto preset = find_preset("llama-3.1-8b");
  EXPECT_EQ(info->source, "hf_config");
  EXPECT_EQ(info->spec.parameter_count(), preset->parameter_count());
  EXPECT_FALSE(info->file_weights) << "no safetensors beside it";

  test::write_text(dir / "mixtral.json", R"({"model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
    "num_local_experts": 8, "num_experts_per_tok": 2, "max_position_embeddings": 32768})");
  auto mixtral = load_model_info((dir / "mixtral.json").string());
  ASSERT_TRUE(mixtral) << mixtral.error().message;
  EXPECT_EQ(mixtral->spec.active_parameter_count(), find_preset("mixtral-8x7b")->active_parameter_count());

  test::write_text(dir / "ds.json", R"({"model_type": "deepseek_v2", "hidden_size": 2048, "intermediate_size": 10944,
    "moe_intermediate_size": 1408, "num_attention_heads": 16, "num_hidden_layers": 27, "num_key_value_heads": 16,
    "vocab_size": 102400, "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6,
    "first_k_dense_replace": 1, "kv_lora_rank": 512, "q_lora_rank": null, "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128, "v_head_dim": 128, "max_position_embeddings": 163840})");
  auto ds = load_model_info((dir / "ds.json").string());
  ASSERT_TRUE(ds) << ds.error().message;
  EXPECT_TRUE(ds->spec.is_mla());
  EXPECT_EQ(ds->spec.parameter_count(), find_preset("deepseek-v2-lite")->parameter_count());
}

TEST(ModelSource, SafetensorsHeadersGiveTheCheckpointBytes) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "config.json", R"({"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128,
    "num_attention_heads": 4, "num_hidden_layers": 1, "num_key_value_heads": 2, "vocab_size": 1000})");
  const std::string header = R"({"model.embed_tokens.weight": {"dtype": "BF16", "shape": [1000, 64], "data_offsets": [0, 128000]},
    "model.layers.0.mlp.up_proj.weight": {"dtype": "F32", "shape": [128, 64], "data_offsets": [128000, 160768]},
    "__metadata__": {"format": "pt"}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header + std::string(160768, '\0');
  test::write_text(dir / "model.safetensors", bytes);
  auto info = load_model_info((dir / "config.json").string());
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_TRUE(info->file_weights);
  EXPECT_EQ(info->file_weights->total_bytes, 1000 * 64 * 2 + 128 * 64 * 4);
  EXPECT_EQ(info->file_weights->token_embd_bytes, 1000 * 64 * 2);

  std::string lying(8, '\0');
  lying[7] = 0x10;  // a header length of 2^60 bytes
  test::write_text(dir / "model.safetensors", lying + "{}");
  auto bad = load_model_info((dir / "config.json").string());
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().code == ErrorCode::kCorrupt) << bad.error().message;
}

TEST(ModelSource, UnknownNamesAndMissingFilesSayWhat) {
  auto name = load_model_info("llama-3.1-8");
  ASSERT_FALSE(name);
  EXPECT_NE(name.error().message.find("llama-3.1-8b"), std::string::npos) << name.error().message;
  auto file = load_model_info("/nonexistent/model.gguf");
  ASSERT_FALSE(file);
  EXPECT_TRUE(file.error().code == ErrorCode::kNotFound);
  const auto dir = test::scratch_dir();
  test::write_text(dir / "bert.json", R"({"model_type": "bert", "hidden_size": 768})");
  auto bert = load_model_info((dir / "bert.json").string());
  ASSERT_FALSE(bert);
  EXPECT_TRUE(bert.error().code == ErrorCode::kUnsupported) << bert.error().message;
}

}  // namespace
}  // namespace batchwise
