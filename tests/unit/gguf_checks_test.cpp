// check_llama_loadable: what llama.cpp would abort on is found by our reader first. Mutants of the
// tiny synthetic model (real files, one field changed) stand for damaged downloads.
#include "model/gguf_checks.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "model/synth.h"
#include "test_support.h"

namespace batchwise {
namespace {

std::string tiny_bytes() {
  test::ensure_tiny_model();
  const auto tiny = default_tiny_model();
  EXPECT_TRUE(tiny);
  std::ifstream in(*tiny, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(GgufChecks, TheTinyModelPasses) {
  const auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny);
  const Status s = check_gguf_file_for_llama(*tiny);
  EXPECT_TRUE(s) << s.error().message;
}

// Regression: llama-vocab.cpp's GGML_ASSERT(id_to_token.size() == token_to_id.size()) aborted `run`
// on a mutant whose vocabulary held one token twice.
TEST(GgufChecks, AVocabularyWithADuplicateTokenIsRefused) {
  std::string bytes = tiny_bytes();
  const std::string key = "tokenizer.ggml.tokens";
  const size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos);
  // key, u32 array type, u32 element type, u64 count, then strings (u64 length, bytes).
  size_t first = at + key.size() + 4 + 4 + 8;
  uint64_t len0 = 0, len1 = 0;
  std::memcpy(&len0, bytes.data() + first, 8);
  const size_t second = first + 8 + len0;
  std::memcpy(&len1, bytes.data() + second, 8);
  ASSERT_EQ(len0, len1) << "the first two tokens of llama-bpe are one byte each";
  std::memcpy(bytes.data() + second + 8, bytes.data() + first + 8, len0);
  const Status s = check_gguf_file_for_llama(test::write_gguf(bytes, "dup.gguf"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(s.error().message.find("twice"), std::string::npos) << s.error().message;
}

TEST(GgufChecks, BlockCountMustMatchTheBlocksPresent) {
  GgufHeader h;
  h.metadata["general.architecture"] = GgufValue{.kind = GgufValue::Kind::kString, .string_value = "llama"};
  auto blocks = [&](int64_t n) { h.metadata["llama.block_count"] = GgufValue{.kind = GgufValue::Kind::kInt, .int_value = n}; };
  h.tensors.push_back({.name = "blk.0.attn_q.weight"});
  h.tensors.push_back({.name = "blk.1.attn_q.weight"});
  blocks(2);
  EXPECT_TRUE(check_llama_loadable(h));
  for (int64_t n : {0LL, 1LL, 3LL, 1000LL, 2147483647LL, 4294967295LL, -1LL}) {
    blocks(n);
    EXPECT_FALSE(check_llama_loadable(h)) << n;
  }
  h.metadata.erase("llama.block_count");
  EXPECT_FALSE(check_llama_loadable(h));
}

TEST(GgufChecks, TokenizerArraysMustHaveOneLength) {
  GgufHeader h;
  h.metadata["general.architecture"] = GgufValue{.kind = GgufValue::Kind::kString, .string_value = "llama"};
  h.metadata["llama.block_count"] = GgufValue{.kind = GgufValue::Kind::kInt, .int_value = 1};
  h.metadata["tokenizer.ggml.tokens"] = GgufValue{.kind = GgufValue::Kind::kArray, .array_count = 10};
  h.metadata["tokenizer.ggml.scores"] = GgufValue{.kind = GgufValue::Kind::kArray, .array_count = 10};
  EXPECT_TRUE(check_llama_loadable(h));
  h.metadata["tokenizer.ggml.token_type"] = GgufValue{.kind = GgufValue::Kind::kArray, .array_count = 9};
  EXPECT_FALSE(check_llama_loadable(h));
}

}  // namespace
}  // namespace batchwise
