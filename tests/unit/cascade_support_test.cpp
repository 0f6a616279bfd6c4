// Where `run` turns cascade attention on by itself: only where every GPU runs its node (patch 0004's flash attention
// with each row's log-sum-exp), asked of ggml with the model's own heads. The same question of the CPU device must
// say yes (its kernel writes the log-sum-exp): that proves the node asked about is one ggml accepts, so a "no" from a
// GPU means the GPU, not a malformed question.
#include "engine/llama/cascade_support.h"

#include <gtest/gtest.h>

#include "engine/llama/llama_handles.h"
#include "model/synth.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(CascadeSupport, TheCpuRunsTheNodeAndAMachineWithoutGpusTurnsCascadeOff) {
  test::ensure_tiny_model();
  auto model = load_llama_model(*default_tiny_model(), 0);
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_TRUE(devices_run_cascade_attention(model->get(), GGML_TYPE_F16, GGML_TYPE_F16, GGML_BACKEND_DEVICE_TYPE_CPU));
  if (llama_gpu_count() == 0) {
    EXPECT_FALSE(devices_run_cascade_attention(model->get(), GGML_TYPE_F16, GGML_TYPE_F16, GGML_BACKEND_DEVICE_TYPE_GPU));
  }
}

TEST(CascadeSupport, TheDefaultRunSaysWhichAttentionItTook) {
  // On this machine's CPU the default stays dense and says so; `--attention cascade` is taken as asked.
  const auto dir = test::scratch_dir();
  const auto in = test::write_chat_requests(dir, 2);
  auto plain = test::run_batchwise({"-v", "run", in.string(), "-o", (dir / "a.jsonl").string()});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  if (llama_gpu_count() == 0) {
    EXPECT_NE(plain.err.find("dense attention"), std::string::npos) << plain.err;
  }
  auto cascade = test::run_batchwise({"-v", "run", in.string(), "-o", (dir / "b.jsonl").string(), "--attention", "cascade"});
  ASSERT_EQ(cascade.exit_code, 0) << cascade.err;
  EXPECT_NE(cascade.err.find("cascade attention"), std::string::npos) << cascade.err;
}

}  // namespace
}  // namespace batchwise
