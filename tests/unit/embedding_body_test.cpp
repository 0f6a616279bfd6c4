// The /v1/embeddings request and answer shapes, and base64 as OpenAI's SDKs decode it.
#include "engine/llama/embedding_body.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/base64.h"

namespace batchwise {
namespace {

TEST(Base64, Rfc4648TestVectors) {
  const std::pair<const char*, const char*> cases[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : cases) EXPECT_EQ(base64_encode(in), out) << in;
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(EmbeddingBody, EveryInputShapeOpenAiTakes) {
  auto one = parse_embedding_body({{"input", "a text"}});
  ASSERT_TRUE(one) << one.error().message;
  ASSERT_EQ(one->inputs.size(), 1u);
  EXPECT_EQ(std::get<std::string>(one->inputs[0]), "a text");
  EXPECT_FALSE(one->base64);
  auto texts = parse_embedding_body({{"input", {"a", "b"}}, {"encoding_format", "base64"}});
  ASSERT_TRUE(texts);
  EXPECT_EQ(texts->inputs.size(), 2u);
  EXPECT_TRUE(texts->base64);
  auto ids = parse_embedding_body({{"input", {1, 2, 3}}});
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->inputs.size(), 1u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(ids->inputs[0]), (std::vector<int32_t>{1, 2, 3}));
  auto lists = parse_embedding_body({{"input", {{1, 2}, {3}}}, {"dimensions", 64}});
  ASSERT_TRUE(lists);
  EXPECT_EQ(lists->inputs.size(), 2u);
  EXPECT_EQ(lists->dimensions, 64);
}

TEST(EmbeddingBody, ErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "`input`"},
      {R"({"input": []})", "`input`"},
      {R"({"input": [1, -2]})", "`input`"},
      {R"({"input": ["a", 3]})", "`input[1]`"},
      {R"({"input": [[1], []]})", "`input[1]`"},
      {R"({"input": "a", "encoding_format": "hex"})", "`encoding_format`"},
      {R"({"input": "a", "dimensions": 0})", "`dimensions`"},
  };
  for (const auto& [body, field] : cases) {
    auto parsed = parse_embedding_body(nlohmann::json::parse(body));
    ASSERT_FALSE(parsed) << body;
    EXPECT_NE(parsed.error().message.find(field), std::string::npos) << body << ": " << parsed.error().message;
  }
}

TEST(EmbeddingBody, AnswerHoldsUnitVectorsAsFloatsOrLittleEndianBase64) {
  std::vector<float> v = {3, 4};
  normalize_l2(v);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> zero = {0, 0};
  normalize_l2(zero);
  EXPECT_EQ(zero[0], 0.0f);
  const auto floats = embedding_response_body({v, {1.0f, 0.0f}}, false, "m", 7);
  EXPECT_EQ(floats["object"], "list");
  EXPECT_EQ(floats["data"][1]["index"], 1);
  EXPECT_EQ(floats["data"][1]["object"], "embedding");
  EXPECT_FLOAT_EQ(floats["data"][0]["embedding"][1].get<float>(), 0.8f);
  EXPECT_EQ(floats["usage"]["prompt_tokens"], 7);
  EXPECT_EQ(floats["usage"]["total_tokens"], 7);
  // 1.0f is 0x3f800000: bytes 00 00 80 3f.
  const auto b64 = embedding_response_body({{1.0f}}, true, "m", 1);
  EXPECT_EQ(b64["data"][0]["embedding"], base64_encode(std::string("\x00\x00\x80\x3f", 4)));
}

}  // namespace
}  // namespace batchwise
