#include "engine/llama/generation_params.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(GenerationParams, OpenAIDefaults) {
  auto p = parse_generation_params(ApiKind::kChatCompletions, nlohmann::json::object());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->max_tokens, kDefaultChatMaxTokens);
  EXPECT_DOUBLE_EQ(p->temperature, 1.0);
  EXPECT_FALSE(p->greedy());
  EXPECT_EQ(p->top_logprobs, -1);
  auto c = parse_generation_params(ApiKind::kCompletions, nlohmann::json::object());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->max_tokens, 16);
}

TEST(GenerationParams, ReadsEveryField) {
  auto p = parse_generation_params(
      ApiKind::kChatCompletions,
      {{"max_completion_tokens", 7}, {"temperature", 0}, {"top_p", 0.5}, {"top_k", 40}, {"seed", 9},
       {"stop", {"a", "b"}}, {"ignore_eos", true}, {"logprobs", true}, {"top_logprobs", 3}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->max_tokens, 7);
  EXPECT_TRUE(p->greedy());
  EXPECT_DOUBLE_EQ(p->top_p, 0.5);
  EXPECT_EQ(p->top_k, 40);
  EXPECT_EQ(p->seed, 9u);
  EXPECT_EQ(p->stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p->ignore_eos);
  EXPECT_EQ(p->top_logprobs, 3);
}

TEST(GenerationParams, ErrorsNameTheField) {
  const std::pair<nlohmann::json, const char*> cases[] = {
      {{{"temperature", 3}}, "`temperature`"},
      {{{"max_tokens", 0}}, "`max_tokens`"},
      {{{"stop", {"a", "b", "c", "d", "e"}}}, "`stop`"},
      {{{"n", 2}}, "`n`"},
      {{{"top_p", "high"}}, "`top_p`"},
  };
  for (const auto& [body, field] : cases) {
    auto p = parse_generation_params(ApiKind::kChatCompletions, body);
    ASSERT_FALSE(p) << body.dump();
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(p.error().message.find(field), std::string::npos) << p.error().message;
  }
}

TEST(GenerationParams, ChatMessagesAcceptStringsAndTextParts) {
  auto m = parse_chat_messages({{"messages",
                                 {{{"role", "system"}, {"content", "rubric"}},
                                  {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "a"}},
                                                                  {{"type", "text"}, {"text", "b"}}}}}}}});
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[1].content, "ab");
  EXPECT_FALSE(parse_chat_messages({{"messages", nlohmann::json::array()}}));
  auto bad = parse_chat_messages({{"messages", {{{"content", "no role"}}}}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("messages[0]"), std::string::npos);
}

TEST(GenerationParams, CompletionPromptIsOneString) {
  EXPECT_EQ(*parse_completion_prompt({{"prompt", "hi"}}), "hi");
  EXPECT_EQ(*parse_completion_prompt({{"prompt", {"hi"}}}), "hi");
  EXPECT_FALSE(parse_completion_prompt({{"prompt", {"a", "b"}}}));
  EXPECT_FALSE(parse_completion_prompt(nlohmann::json::object()));
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// Regression: part.value("type", "") threw type_error on a preparer thread (SIGABRT for the job).
TEST(GenerationParams, ContentPartWithANonStringTypeIsAFieldErrorNotAnException) {
  for (const char* body : {R"({"messages":[{"role":"user","content":[{"type":1,"text":"x"}]}]})",
                           R"({"messages":[{"role":"user","content":[{"type":null,"text":"x"}]}]})",
                           R"({"messages":[{"role":"user","content":[{"type":"text","text":5}]}]})",
                           R"({"messages":[{"role":"user","content":[[]]}]})"}) {
    Expected<std::vector<ChatMessage>> m;
    EXPECT_NO_THROW(m = parse_chat_messages(nlohmann::json::parse(body))) << body;
    ASSERT_FALSE(m) << body;
    EXPECT_NE(m.error().message.find("messages[0].content"), std::string::npos) << m.error().message;
  }
}

TEST(GenerationParams, MaxTokensAboveInt64MaxIsRefusedNotWrapped) {
  const auto p = parse_generation_params(ApiKind::kChatCompletions,
                                         nlohmann::json::parse(R"({"max_tokens":18446744073709551615})"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("max_tokens"), std::string::npos);
  const auto big = parse_generation_params(ApiKind::kChatCompletions,
                                           nlohmann::json::parse(R"({"max_tokens":9223372036854775807})"));
  ASSERT_TRUE(big);  // valid as a number; the engine's context check refuses it without overflow
  EXPECT_EQ(big->max_tokens, INT64_MAX);
}

}  // namespace
}  // namespace batchwise
