#include "engine/llama/responses_request.h"

#include <gtest/gtest.h>

#include "engine/llama/generation_params.h"

namespace batchwise {
namespace {

TEST(ResponsesRequest, StringInputIsOneUserMessage) {
  auto chat =
      chat_body_from_responses({{"model", "m"}, {"input", "Score it."}, {"max_output_tokens", 9}, {"temperature", 0}});
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ((*chat)["messages"], nlohmann::json::parse(R"([{"role": "user", "content": "Score it."}])"));
  EXPECT_EQ((*chat)["max_tokens"], 9);
  EXPECT_EQ((*chat)["temperature"], 0);
  EXPECT_EQ((*chat)["model"], "m");
  auto params = parse_generation_params(ApiKind::kChatCompletions, *chat);
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->max_tokens, 9);
  EXPECT_TRUE(params->greedy());
}

TEST(ResponsesRequest, InstructionsComeFirstAndPartsBecomeTextParts) {
  const auto body = nlohmann::json::parse(R"({
    "instructions": "You grade.",
    "input": [
      {"role": "user", "content": [{"type": "input_text", "text": "A"}, {"type": "input_text", "text": "B"}]},
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "7", "annotations": []}]},
      {"role": "developer", "content": "Again."}
    ]})");
  auto chat = chat_body_from_responses(body);
  ASSERT_TRUE(chat) << chat.error().message;
  const auto& m = (*chat)["messages"];
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0], nlohmann::json::parse(R"({"role": "system", "content": "You grade."})"));
  EXPECT_EQ(m[1]["content"],
            nlohmann::json::parse(R"([{"type": "text", "text": "A"}, {"type": "text", "text": "B"}])"));
  EXPECT_EQ(m[2]["role"], "assistant");
  EXPECT_EQ(m[2]["content"][0]["text"], "7");
  EXPECT_EQ(m[3]["role"], "developer");
  // The chat path reads it: text parts joined.
  auto messages = parse_chat_messages(*chat);
  ASSERT_TRUE(messages) << messages.error().message;
  EXPECT_EQ((*messages)[1].content, "AB");
  EXPECT_FALSE(chat->contains("max_tokens")) << "no max_output_tokens: the chat default";
}

TEST(ResponsesRequest, TextFormatBecomesResponseFormat) {
  const auto schema = nlohmann::json::parse(R"({"type": "object", "properties": {"score": {"type": "integer"}}})");
  auto chat = chat_body_from_responses(
      {{"input", "x"},
       {"text", {{"format", {{"type", "json_schema"}, {"name", "s"}, {"strict", true}, {"schema", schema}}}}}});
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ((*chat)["response_format"]["type"], "json_schema");
  EXPECT_EQ((*chat)["response_format"]["json_schema"]["schema"], schema);
  EXPECT_EQ((*chat)["response_format"]["json_schema"]["name"], "s");
  auto object = chat_body_from_responses({{"input", "x"}, {"text", {{"format", {{"type", "json_object"}}}}}});
  ASSERT_TRUE(object);
  EXPECT_EQ((*object)["response_format"], nlohmann::json::parse(R"({"type": "json_object"})"));
  auto plain =
      chat_body_from_responses({{"input", "x"}, {"text", {{"format", {{"type", "text"}}}, {"verbosity", "low"}}}});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->contains("response_format"));
}

TEST(ResponsesRequest, BookkeepingFieldsAreIgnored) {
  auto chat = chat_body_from_responses({{"input", "x"},
                                        {"store", false},
                                        {"metadata", {{"k", "v"}}},
                                        {"user", "u"},
                                        {"reasoning", {{"effort", "low"}}},
                                        {"truncation", "disabled"},
                                        {"tool_choice", "auto"},
                                        {"tools", nlohmann::json::array()}});
  ASSERT_TRUE(chat) << chat.error().message;
}

TEST(ResponsesRequest, ErrorsNameTheResponsesField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "`input`"},
      {R"({"input": []})", "`input`"},
      {R"({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]})",
       "`input[0].content[0]`"},
      {R"({"input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]})", "`input[0]`"},
      {R"({"input": [{"role": "user", "content": 5}]})", "`input[0].content`"},
      {R"({"input": "x", "instructions": 3})", "`instructions`"},
      {R"({"input": "x", "max_output_tokens": 0})", "`max_output_tokens`"},
      {R"({"input": "x", "previous_response_id": "resp_1"})", "`previous_response_id`"},
      {R"({"input": "x", "tools": [{"type": "web_search"}]})", "`tools`"},
      {R"({"input": "x", "tool_choice": "required"})", "`tool_choice`"},
      {R"({"input": "x", "include": ["message.output_text.logprobs"]})", "`include`"},
      {R"({"input": "x", "top_logprobs": 3})", "`top_logprobs`"},
      {R"({"input": "x", "text": {"format": {"type": "yaml"}}})", "`text.format.type`"},
      {R"({"input": "x", "text": {"format": {"type": "json_schema", "name": "s"}}})", "`text.format.schema`"},
  };
  for (const auto& [body, field] : cases) {
    auto chat = chat_body_from_responses(nlohmann::json::parse(body));
    ASSERT_FALSE(chat) << body;
    EXPECT_EQ(chat.error().code, ErrorCode::kInvalidArgument) << body;
    EXPECT_NE(chat.error().message.find(field), std::string::npos) << body << ": " << chat.error().message;
  }
}

TEST(ResponsesRequest, ChatPathErrorsAreSaidInResponsesTerms) {
  const Error e = in_responses_terms(Error{
      ErrorCode::kInvalidArgument, "body field `response_format.json_schema.schema` cannot be turned into a grammar"});
  EXPECT_EQ(e.message, "body field `text.format.schema` cannot be turned into a grammar");
  EXPECT_EQ(in_responses_terms(Error{ErrorCode::kInvalidArgument, "body field `response_format`: no"}).message,
            "body field `text.format`: no");
}

}  // namespace
}  // namespace batchwise
