// The tensor list of every architecture is exactly what llama.cpp loads: a GGUF holding just these
// tensors loads (llama.cpp refuses missing or misshapen ones) and llama.cpp counts the same parameters.
#include "model/tensor_layout.h"

#include <gtest/gtest.h>

#include "llama.h"
#include "sparse_gguf.h"
#include "test_support.h"

namespace batchwise {
namespace {

void quiet(ggml_log_level, const char*, void*) {}

TEST(TensorLayout, LlamaCppLoadsEveryArchitecturesTensorsWithTheSameParameterCount) {
  llama_log_set(quiet, nullptr);
  for (const char* name : {"llama-3.2-1b", "qwen2.5-7b", "qwen3-8b", "gemma-2-9b", "mixtral-8x7b", "qwen3-30b-a3b",
                           "deepseek-v2-lite"}) {
    ModelSpec spec = *find_preset(name);
    spec.vocab = spec.vocab == "gemma" || spec.vocab == "deepseek-llm" ? "llama-bpe" : spec.vocab;
    spec.vocab_size = test::vocab_tokens(spec.vocab);
    const auto path = test::scratch_dir() / "m.gguf";
    ASSERT_EQ(test::write_sparse_gguf(spec, FileType::kF16, path), "") << name;
    llama_model_params mp = llama_model_default_params();
    mp.no_alloc = true;
    mp.load_mode = LLAMA_LOAD_MODE_NONE;
    llama_model* model = llama_model_load_from_file(path.c_str(), mp);
    ASSERT_NE(model, nullptr) << name << ": llama.cpp refused the tensor list";
    EXPECT_EQ(static_cast<int64_t>(llama_model_n_params(model)), spec.parameter_count()) << name;
    llama_model_free(model);
  }
}

TEST(TensorLayout, ExpertTensorsAreMarkedAndThreeDimensional) {
  const ModelSpec spec = *find_preset("qwen3-30b-a3b");
  int routed = 0;
  for (const auto& t : model_tensor_shapes(spec)) {
    if (!t.routed_expert) continue;
    ++routed;
    EXPECT_EQ(t.ne2, spec.n_expert) << t.name;
  }
  EXPECT_EQ(routed, 3 * spec.n_layer) << "gate, up and down experts in every layer";
}

}  // namespace
}  // namespace batchwise
