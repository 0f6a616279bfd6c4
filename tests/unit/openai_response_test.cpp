// What the HTTP engine reads from answers: usage, cached tokens, server kind, error classes, URLs.
#include "engine/http/openai_response.h"

#include "job/retry_policy.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(OpenAiResponse, UsageWithOpenAiCachedTokens) {
  auto u = *read_usage(
      R"({"choices":[{"message":{"content":"{\"usage\":{\"prompt_tokens\":5}}"}}],)"
      R"("usage":{"prompt_tokens":2000,"completion_tokens":32,"prompt_tokens_details":{"cached_tokens":1984}}})");
  EXPECT_EQ(u.prompt_tokens, 2000);
  EXPECT_EQ(u.completion_tokens, 32);
  EXPECT_EQ(u.cached_tokens, 1984);
  EXPECT_FALSE(u.llama_server);
}

TEST(OpenAiResponse, ResponsesUsageAndShape) {
  const std::string body =
      R"({"object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],)"
      R"("usage":{"input_tokens":2000,"input_tokens_details":{"cached_tokens":1984},"output_tokens":32,)"
      R"("output_tokens_details":{"reasoning_tokens":0},"total_tokens":2032}})";
  auto u = *read_usage(body);
  EXPECT_EQ(u.prompt_tokens, 2000);
  EXPECT_EQ(u.completion_tokens, 32);
  EXPECT_EQ(u.cached_tokens, 1984);
  EXPECT_EQ(answer_shape_error(ApiKind::kResponses, u), "");
  EXPECT_EQ(answer_shape_error(ApiKind::kResponses, *read_usage(R"({"object":"response","output":{}})")),
            "the answer has no `output` array");
  EXPECT_NE(answer_shape_error(ApiKind::kResponses, *read_usage(R"({"choices":[{"message":{"content":"a"}}]})")), "");
}

TEST(OpenAiResponse, LlamaServerCacheNCountsAsCachedAndNamesTheServer) {
  auto u = *read_usage(R"({"usage":{"prompt_tokens":100,"completion_tokens":4},"timings":{"cache_n":90,"prompt_n":10}})");
  EXPECT_EQ(u.cached_tokens, 90);
  EXPECT_TRUE(u.llama_server);
}

TEST(OpenAiResponse, MissingOrOddUsageGivesZerosAndNonJsonNothing) {
  EXPECT_EQ(read_usage(R"({"choices":[]})")->prompt_tokens, 0);
  EXPECT_EQ(read_usage(R"({"usage":"x"})")->prompt_tokens, 0);
  EXPECT_EQ(read_usage(R"([1])")->prompt_tokens, 0);
  EXPECT_EQ(read_usage(R"({"a":{"usage":{"prompt_tokens":3}}})")->prompt_tokens, 0);  // only the top level counts
  EXPECT_FALSE(read_usage("<html>502 Bad Gateway</html>"));
  EXPECT_FALSE(read_usage(R"({"usage":{"prompt_tokens":3})"));
}

TEST(OpenAiResponse, HttpStatusClasses) {
  EXPECT_EQ(error_for_http_status(400, R"({"error":{"message":"bad"}})").code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_for_http_status(400, R"({"error":{"message":"bad"}})").message, "HTTP 400: bad");
  EXPECT_EQ(error_for_http_status(400, R"({"error":{"code":"context_length_exceeded"}})").code,
            ErrorCode::kContextExceeded);
  EXPECT_EQ(error_for_http_status(401, "").code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_for_http_status(408, "").code, ErrorCode::kTimeout);
  EXPECT_EQ(error_for_http_status(429, "").code, ErrorCode::kRateLimited);
  EXPECT_EQ(error_for_http_status(500, "oops").code, ErrorCode::kServerError);
  EXPECT_EQ(error_for_http_status(503, "").code, ErrorCode::kServerError);
}

// Issue 26: llama-server's "Context size has been exceeded." came as HTTP 500 and was retried 192 times.
TEST(OpenAiResponse, AnAnswerThatSaysTheContextWasExceededIsFinalWhateverItsStatus) {
  const char* llama_500 = R"({"error":{"code":500,"message":"Context size has been exceeded.","type":"server_error"}})";
  const Error e = error_for_http_status(500, llama_500);
  EXPECT_EQ(e.code, ErrorCode::kContextExceeded);
  EXPECT_NE(e.message.find("larger -c"), std::string::npos) << e.message;
  EXPECT_EQ(error_for_http_status(400, R"({"error":{"code":400,"message":"request (5000 tokens) exceeds the available )"
                                       R"(context size (4096 tokens), try increasing it","type":"exceed_context_size_error"}})")
                .code,
            ErrorCode::kContextExceeded);
  EXPECT_EQ(error_for_http_status(400, R"({"object":"error","message":"This model's maximum context length is 4096 tokens."})")
                .code,
            ErrorCode::kContextExceeded);
  EXPECT_EQ(error_for_http_status(500, R"({"error":{"message":"failed to allocate the context window"}})").code,
            ErrorCode::kServerError);
  EXPECT_FALSE(RetryPolicy::retryable(error_for_http_status(500, llama_500).code));
}

TEST(OpenAiResponse, EndpointsWithOrWithoutV1) {
  EXPECT_EQ(*normalize_endpoint("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(*normalize_endpoint("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
  EXPECT_EQ(*normalize_endpoint("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080");
  EXPECT_EQ(*normalize_endpoint("https://api.example.com/v1/"), "https://api.example.com");
  EXPECT_EQ(*normalize_endpoint("https://gw.example.com/team/v1"), "https://gw.example.com/team");
  EXPECT_FALSE(normalize_endpoint("127.0.0.1:8080"));
  EXPECT_FALSE(normalize_endpoint("http://"));
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// Regression: a 200 without `choices` (or with content a number) was recorded ok with empty content.
TEST(OpenAiResponse, AnswerWithoutChoicesOrWithNonStringContentHasAShapeError) {
  auto shape = [](ApiKind kind, const std::string& body) { return answer_shape_error(kind, *read_usage(body)); };
  EXPECT_EQ(shape(ApiKind::kChatCompletions, R"({"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]})"), "");
  EXPECT_EQ(shape(ApiKind::kChatCompletions, R"({"choices":[{"index":0,"message":{"role":"assistant","content":null}}]})"), "");
  EXPECT_EQ(shape(ApiKind::kCompletions, R"({"choices":[{"index":0,"text":"hi","logprobs":{"tokens":[1]}}]})"), "");
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"id":"x","usage":{"prompt_tokens":1}})"), "");
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"choices":{"index":0}})"), "");
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"choices":[{"message":{"content":42}}]})"), "");
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"choices":[{"message":{"content":{"a":1}}}]})"), "");
  EXPECT_NE(shape(ApiKind::kCompletions, R"({"choices":[{"text":7}]})"), "");
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"choices":[7]})"), "");
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"choices":null})"), "");
  EXPECT_EQ(shape(ApiKind::kEmbeddings, R"({"data":[{"embedding":[0.1]}]})"), "");
}

// Regression: a stream of only `data: [DONE]` (assembled to `choices: []`) and a stream's chunk sent
// as the whole answer (a `delta`, no `message`) were recorded ok with no answer.
TEST(OpenAiResponse, EmptyChoicesOrAChoiceWithoutItsMessageOrTextHasAShapeError) {
  auto shape = [](ApiKind kind, const std::string& body) { return answer_shape_error(kind, *read_usage(body)); };
  EXPECT_EQ(shape(ApiKind::kChatCompletions, R"({"choices":[]})"), "the answer's `choices` is empty");
  EXPECT_EQ(shape(ApiKind::kChatCompletions, R"({"choices":[{"index":0,"delta":{"content":"x"}}]})"),
            "a choice has no `message`");
  EXPECT_EQ(shape(ApiKind::kCompletions, R"({"choices":[{"index":0,"finish_reason":"stop"}]})"), "a choice has no `text`");
  // Two choices, one without its message: still not an answer.
  EXPECT_NE(shape(ApiKind::kChatCompletions,
                  R"({"choices":[{"message":{"content":"a"}},{"index":1,"finish_reason":"stop"}]})"), "");
  // A `message` key deeper inside a choice is not the choice's message.
  EXPECT_NE(shape(ApiKind::kChatCompletions, R"({"choices":[{"logprobs":{"message":{}}}]})"), "");
  EXPECT_EQ(shape(ApiKind::kChatCompletions, R"({"choices":[{"message":{"content":"a"}},{"message":{"content":"b"}}]})"), "");
}

TEST(OpenAiResponse, DeeplyNestedOrHugeNumbersNeitherCrashNorAreTakenAsUsage) {
  EXPECT_FALSE(read_usage(std::string(100000, '[') + std::string(100000, ']')));
  const auto u = read_usage(R"({"choices":[],"usage":{"prompt_tokens":1e300,"completion_tokens":18446744073709551615}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 0);
}

}  // namespace
}  // namespace batchwise
