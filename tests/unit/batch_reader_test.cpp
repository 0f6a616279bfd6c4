// BatchReader: a request's body read back by its byte span is the input's bytes, whatever order the lines
// are asked for in (file order is served from one read ahead; a jump back or far ahead reads that line alone).
#include "job/batch_input.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "test_support.h"

namespace batchwise {
namespace {

TEST(BatchReader, EveryBodyIsTheInputsBytesInFileOrderBackwardsAndAtRandom) {
  const auto dir = test::scratch_dir();
  // 3,000 lines of ~300 bytes (about 3.5 windows of 256 KiB), with key order and spacing a parser would not keep.
  std::string text;
  std::vector<std::string> bodies;
  for (int i = 0; i < 3000; ++i) {
    bodies.push_back(R"({"z":1, "messages":[{"role":"user","content":"line )" + std::to_string(i) + " " +
                     std::string(200 + i % 97, 'x') + R"("}],"a":1.10e-7})");
    text += R"({"custom_id":"c)" + std::to_string(i) + R"(","method":"POST","url":"/v1/chat/completions","body":)" +
            bodies.back() + "}\n";
  }
  test::write_text(dir / "in.jsonl", text);
  auto input = scan_batch_input(dir / "in.jsonl");
  ASSERT_TRUE(input) << input.error().message;
  ASSERT_EQ(input->requests.size(), bodies.size());

  std::vector<size_t> in_order(bodies.size());
  for (size_t i = 0; i < in_order.size(); ++i) in_order[i] = i;
  std::vector<size_t> backwards(in_order.rbegin(), in_order.rend());
  std::vector<size_t> shuffled = in_order;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  // In order, with a retry of an early line now and then (the read-ahead must survive a jump back).
  std::vector<size_t> with_retries;
  for (size_t i = 0; i < in_order.size(); ++i) {
    with_retries.push_back(i);
    if (i % 500 == 499) with_retries.push_back(i - 400);
  }
  for (const auto& order : {in_order, backwards, shuffled, with_retries}) {
    auto reader = BatchReader::open(dir / "in.jsonl");
    ASSERT_TRUE(reader);
    for (size_t i : order) {
      auto request = reader->read_body(input->requests[i]);
      ASSERT_TRUE(request) << request.error().message;
      ASSERT_EQ(request->body_text, bodies[i]) << "line " << i + 1;
      ASSERT_EQ(request->key, static_cast<uint64_t>(input->requests[i].line));
    }
  }
}

}  // namespace
}  // namespace batchwise
