#include "tune/workload_sketch.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace batchwise {
namespace {

std::string line(const std::string& id, const std::string& content, int max_tokens) {
  return R"({"custom_id":")" + id + R"(","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":")" +
         content + R"("}],"max_tokens":)" + std::to_string(max_tokens) + "}}\n";
}

TEST(WorkloadSketch, BucketsToTheNearestPowerOfTwo) {
  EXPECT_EQ(bucket_tokens(0), 0);
  EXPECT_EQ(bucket_tokens(1), 1);
  EXPECT_EQ(bucket_tokens(40), 32);
  EXPECT_EQ(bucket_tokens(48), 64);
  EXPECT_EQ(bucket_tokens(2050), 2048);
}

TEST(WorkloadSketch, FindsTheSharedPrefixAndOutputLength) {
  const auto dir = test::scratch_dir();
  const std::string rubric(800, 'r');  // ~200 tokens shared
  test::write_text(dir / "a.jsonl", line("1", rubric + std::string(200, 'a'), 32) + line("2", rubric + std::string(200, 'b'), 32) +
                                        "not json\n");
  const auto s = sketch_workload(dir / "a.jsonl");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, 2);
  EXPECT_EQ(s->shared_prefix_tokens, 200);
  EXPECT_EQ(s->output_tokens, 32);
  EXPECT_EQ(s->bucket(), "p256-s256-o32");

  test::write_text(dir / "b.jsonl", line("1", rubric + std::string(200, 'a'), 128) + line("2", rubric + std::string(200, 'b'), 128));
  EXPECT_NE(sketch_workload(dir / "b.jsonl")->bucket(), s->bucket()) << "four times the output is another shape";
}

TEST(WorkloadSketch, ResponsesLinesCountTheirInstructionsInputAndMaxOutputTokens) {
  const auto dir = test::scratch_dir();
  const std::string rubric(800, 'r');
  auto responses = [&](const std::string& id, char own) {
    return R"({"custom_id":")" + id + R"(","url":"/v1/responses","body":{"instructions":")" + rubric +
           R"(","input":[{"role":"user","content":[{"type":"input_text","text":")" + std::string(200, own) +
           R"("}]}],"max_output_tokens":32}})" + "\n";
  };
  test::write_text(dir / "r.jsonl", responses("1", 'a') + responses("2", 'b'));
  const auto s = sketch_workload(dir / "r.jsonl");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, 2);
  EXPECT_GE(s->shared_prefix_tokens, 200);
  EXPECT_GE(s->prompt_tokens, 250);
  EXPECT_EQ(s->output_tokens, 32);
  EXPECT_FALSE(s->embeddings);
  test::write_text(dir / "e.jsonl", R"({"custom_id":"1","url":"/v1/embeddings","body":{"input":"a text"}})" "\n");
  EXPECT_TRUE(sketch_workload(dir / "e.jsonl")->embeddings) << "plan does not model these: tune leaves it out";
}

TEST(WorkloadSketch, AFileWithoutRequestsIsAClearError) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "empty.jsonl", "\n{\"x\":1}\n");
  const auto s = sketch_workload(dir / "empty.jsonl");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("no request lines"), std::string::npos);
}

}  // namespace
}  // namespace batchwise
