// synth writes GGUFs that llama.cpp itself loads, with the preset's shapes and parameter count.
#include "model/synth.h"

#include <gtest/gtest.h>

#include "gguf.h"
#include "llama.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(Synth, TinyModelLoadsInLlamaCppWithThePresetsParameterCountAndShapes) {
  const auto dir = test::scratch_dir();
  auto spec = find_preset("tiny");
  ASSERT_TRUE(spec) << spec.error().message;
  SynthOptions options;
  options.spec = *spec;
  options.output = dir / "tiny.gguf";
  auto result = synth_model(options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->parameter_count, spec->parameter_count());

  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  llama_model* model = llama_model_load_from_file(options.output.c_str(), mp);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(static_cast<int64_t>(llama_model_n_params(model)), spec->parameter_count());
  EXPECT_EQ(llama_model_n_embd(model), spec->n_embd);
  EXPECT_EQ(llama_model_n_layer(model), spec->n_layer);
  EXPECT_EQ(llama_model_n_head(model), spec->n_head);
  EXPECT_EQ(llama_model_n_head_kv(model), spec->n_head_kv);
  EXPECT_EQ(llama_vocab_n_tokens(llama_model_get_vocab(model)), spec->vocab_size);
  EXPECT_NE(llama_model_chat_template(model, nullptr), nullptr);
  llama_model_free(model);

  gguf_init_params gp{/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context* g = gguf_init_from_file(options.output.c_str(), gp);
  ASSERT_NE(g, nullptr);
  const int64_t q = gguf_find_tensor(g, "blk.1.attn_q.weight");
  const int64_t k = gguf_find_tensor(g, "blk.1.attn_k.weight");
  const int64_t down = gguf_find_tensor(g, "blk.0.ffn_down.weight");
  ASSERT_GE(q, 0);
  ASSERT_GE(k, 0);
  ASSERT_GE(down, 0);
  EXPECT_EQ(gguf_get_tensor_ne(g, q)[1], spec->n_head * spec->head_dim);
  EXPECT_EQ(gguf_get_tensor_ne(g, k)[1], spec->n_head_kv * spec->head_dim);
  EXPECT_EQ(gguf_get_tensor_ne(g, down)[0], spec->n_ff);
  EXPECT_EQ(gguf_find_tensor(g, "output.weight"), -1) << "tiny ties its output to token_embd";
  gguf_free(g);
}

// Parameter counts of the real models the presets copy (HF model cards, with the tokenizer's
// vocabulary): Llama 3.2 1B 1.236B, Llama 3.1 8B 8.030B, Qwen2.5 7B 7.6B, Mistral 7B 7.24B.
TEST(Synth, PresetsHaveTheRealModelsParameterCounts) {
  const std::pair<const char*, double> expected[] = {
      {"llama-3.2-1b", 1.2358e9}, {"llama-3.2-3b", 3.2128e9}, {"llama-3.1-8b", 8.0301e9},
      {"qwen2.5-7b", 7.6156e9},   {"mistral-7b", 7.2417e9}};
  for (const auto& [name, params] : expected) {
    auto spec = find_preset(name);
    ASSERT_TRUE(spec) << name;
    EXPECT_NEAR(static_cast<double>(spec->parameter_count()), params, params * 0.002) << name;
  }
}

TEST(Synth, QuantizedFileIsSmallerAndLoads) {
  const auto dir = test::scratch_dir();
  auto spec = find_preset("tiny");
  ASSERT_TRUE(spec);
  spec->n_embd = 256;  // a row length Q4_K can quantize (multiple of 256)
  spec->n_ff = 512;
  spec->head_dim = 64;
  SynthOptions f16{*spec, SynthQuant::kF16, dir / "f16.gguf"};
  SynthOptions q4{*spec, SynthQuant::kQ4_K_M, dir / "q4.gguf"};
  auto a = synth_model(f16);
  auto b = synth_model(q4);
  ASSERT_TRUE(a && b);
  EXPECT_LT(b->file_bytes * 2, a->file_bytes);
  llama_backend_init();
  llama_model* model = llama_model_load_from_file(q4.output.c_str(), llama_model_default_params());
  ASSERT_NE(model, nullptr);
  char desc[128];
  llama_model_desc(model, desc, sizeof desc);
  EXPECT_NE(std::string(desc).find("Q4_K"), std::string::npos) << desc;
  llama_model_free(model);
}

TEST(Synth, UnknownPresetListsCloseMatches) {
  auto spec = find_preset("llama-3.1-8");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("llama-3.1-8b"), std::string::npos) << spec.error().message;
}

TEST(Synth, UnknownQuantizationSaysWhichExist) {
  auto q = parse_synth_quant("q3_k");
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message.find("q4_k_m"), std::string::npos);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// `synth --config`: the shapes come from a HuggingFace config.json; llama.cpp loads the result.
TEST(Synth, HuggingFaceConfigGivesAModelWithItsShapes) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "config.json",
                   R"({"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 3,
                       "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32000,
                       "max_position_embeddings": 2048, "tie_word_embeddings": false})");
  const auto out = dir / "from-config.gguf";
  const auto r = test::run_batchwise({"-q", "synth", "--config", (dir / "config.json").string(), "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  llama_model* model = llama_model_load_from_file(out.c_str(), llama_model_default_params());
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(llama_model_n_embd(model), 256);
  EXPECT_EQ(llama_model_n_layer(model), 3);
  EXPECT_EQ(llama_model_n_head(model), 4);
  EXPECT_EQ(llama_model_n_head_kv(model), 2);
  llama_model_free(model);

  test::write_text(dir / "bert.json", R"({"model_type": "bert"})");
  const auto bad = test::run_batchwise({"synth", "--config", (dir / "bert.json").string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("bert"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace batchwise
