// SseAssembler: streamed OpenAI answers back into whole bodies, with content arrival times.
#include "engine/http/sse_assembler.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

const std::string kChatStream =
    ": keep-alive\n\n"
    R"(data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"lo ☃"},"finish_reason":null}]})"
    "\r\n\r\n"
    R"(data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
    "\n\n"
    R"(data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})"
    "\n\n"
    "data: [DONE]\n\n";

TEST(SseAssembler, ChatChunksAssembleIntoAChatCompletionWithUsage) {
  SseAssembler a(true);
  ASSERT_TRUE(a.feed(kChatStream, 1.0));
  auto body = a.finish();
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ((*body)["id"], "c1");
  EXPECT_EQ((*body)["object"], "chat.completion");
  EXPECT_EQ((*body)["created"], 7);
  EXPECT_EQ((*body)["model"], "m");
  ASSERT_EQ((*body)["choices"].size(), 1u);
  EXPECT_EQ((*body)["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ((*body)["choices"][0]["message"]["content"], "Hello ☃");
  EXPECT_EQ((*body)["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ((*body)["usage"]["prompt_tokens"], 12);
  EXPECT_EQ((*body)["usage"]["completion_tokens"], 3);
  EXPECT_FALSE(body->contains("timings"));
}

TEST(SseAssembler, BytesSplitAnywhereGiveTheSameBodyAndTimesComeFromTheContentChunks) {
  SseAssembler whole(true);
  ASSERT_TRUE(whole.feed(kChatStream, 0));
  const auto expected = whole.finish();
  ASSERT_TRUE(expected);
  for (size_t step : {1u, 2u, 3u, 7u, 64u}) {
    SseAssembler a(true);
    double t = 0;
    for (size_t i = 0; i < kChatStream.size(); i += step) {
      ASSERT_TRUE(a.feed(std::string_view(kChatStream).substr(i, step), t));
      t += 1;
    }
    auto body = a.finish();
    ASSERT_TRUE(body) << "step " << step << ": " << body.error().message;
    EXPECT_EQ(*body, *expected) << "step " << step;
    // An event counts when its blank line arrives (piece k is fed at time k). The first chunk has
    // empty content: the clock starts at "Hel".
    const size_t hel_blank = kChatStream.find("\n\n", kChatStream.find("Hel")) + 1;
    const size_t lo_blank = kChatStream.find("\r\n\r\n", kChatStream.find("lo ☃")) + 3;
    ASSERT_TRUE(a.first_content_s());
    EXPECT_DOUBLE_EQ(*a.first_content_s(), static_cast<double>(hel_blank / step)) << step;
    EXPECT_DOUBLE_EQ(a.mean_gap_ms(), static_cast<double>(lo_blank / step - hel_blank / step) * 1000) << step;
    EXPECT_EQ(a.content_chunks(), 2);
  }
}

TEST(SseAssembler, InterTokenGapIsTheMeanBetweenContentChunks) {
  SseAssembler a(false);
  ASSERT_TRUE(a.feed(R"(data: {"id":"t","choices":[{"index":0,"text":"a"}]})" "\n\n", 10.0));
  ASSERT_TRUE(a.feed(R"(data: {"id":"t","choices":[{"index":0,"text":"b"}]})" "\n\n", 10.1));
  ASSERT_TRUE(a.feed(R"(data: {"id":"t","choices":[{"index":0,"text":"c","finish_reason":"length"}]})" "\n\n", 10.3));
  ASSERT_TRUE(a.feed(R"(data: {"id":"t","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3},"timings":{"cache_n":1}})"
                     "\n\ndata: [DONE]\n\n",
                     10.4));
  EXPECT_DOUBLE_EQ(*a.first_content_s(), 10.0);
  EXPECT_NEAR(a.mean_gap_ms(), 150, 1e-6);
  auto body = a.finish();
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ((*body)["object"], "text_completion");
  EXPECT_EQ((*body)["choices"][0]["text"], "abc");
  EXPECT_EQ((*body)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ((*body)["timings"]["cache_n"], 1);  // llama-server's cached prompt tokens
}

TEST(SseAssembler, DoneWithoutTrailingBlankLineStillEnds) {
  SseAssembler a(true);
  ASSERT_TRUE(a.feed(R"(data: {"id":"x","choices":[{"index":0,"delta":{"content":"k"}}]})" "\n\ndata: [DONE]", 0));
  auto body = a.finish();
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ((*body)["choices"][0]["message"]["content"], "k");
}

TEST(SseAssembler, StreamCutShortBeforeDoneIsAnError) {
  SseAssembler a(true);
  ASSERT_TRUE(a.feed(R"(data: {"id":"x","choices":[{"index":0,"delta":{"content":"k"}}]})" "\n\n", 0));
  auto body = a.finish();
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, ErrorCode::kServerError);
  EXPECT_NE(body.error().message.find("[DONE]"), std::string::npos) << body.error().message;
}

TEST(SseAssembler, DataLineThatIsNotJsonIsAStickyError) {
  SseAssembler a(true);
  auto s = a.feed("data: {\"id\":\"x\",\"choi\n\n", 0);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not a JSON object"), std::string::npos) << s.error().message;
  EXPECT_FALSE(a.feed("data: [DONE]\n\n", 0));
  EXPECT_FALSE(a.finish());
}

TEST(SseAssembler, ErrorEventFromTheServerIsAnError) {
  SseAssembler a(true);
  auto s = a.feed(R"(data: {"error":{"message":"out of memory","type":"server_error"}})" "\n\n", 0);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("out of memory"), std::string::npos) << s.error().message;
}

TEST(SseAssembler, PlainJsonAnswerSeesNoEvents) {
  SseAssembler a(true);
  ASSERT_TRUE(a.feed(R"({"id":"x","object":"chat.completion","choices":[]})", 0));
  EXPECT_FALSE(a.saw_events());
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// Regression: c.value("index", 0) threw on "zero" inside curl's write callback (SIGABRT).
TEST(SseAssembler, HostileChoicesAreServerErrorsNeverExceptions) {
  for (const char* event : {R"(data: {"choices":[{"index":"zero","delta":{"content":"x"}}]})",
                            R"(data: {"choices":{"0":{"delta":{"content":"x"}}}})",
                            R"(data: {"choices":[{"index":0,"delta":{"content":7}}]})",
                            R"(data: {"choices":[{"index":0,"delta":"text"}]})",
                            R"(data: {"choices":[{"index":-1,"delta":{"content":"x"}}]})",
                            R"(data: {"choices":[5]})"}) {
    SseAssembler a(true);
    Status fed;
    EXPECT_NO_THROW(fed = a.feed(std::string(event) + "\n\ndata: [DONE]\n\n", 1.0)) << event;
    EXPECT_FALSE(fed) << event;
    auto body = a.finish();
    ASSERT_FALSE(body) << event;
    EXPECT_EQ(body.error().code, ErrorCode::kServerError);
  }
  SseAssembler nulls(true);  // a null index is read as choice 0, as most servers mean it
  ASSERT_TRUE(nulls.feed("data: {\"choices\":[{\"index\":null,\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n", 1.0));
  auto body = nulls.finish();
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["choices"][0]["message"]["content"], "x");
}

TEST(SseAssembler, AnEventNestedDeeperThanTheLimitIsRefused) {
  SseAssembler a(true);
  EXPECT_FALSE(a.feed("data: " + std::string(100000, '[') + std::string(100000, ']') + "\n\n", 1.0));
}

}  // namespace
}  // namespace batchwise
