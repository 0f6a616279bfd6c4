// Shard selection: which lines `run --shard I/N` takes. The hash is a promise across machines and
// versions, so its values are pinned here: a change that moves a line to another shard fails.
#include "job/shard.h"

#include <gtest/gtest.h>

#include <set>

#include "job/batch_input.h"

namespace batchwise {
namespace {

TEST(Shard, ParsesIOverNAndNamesWhatIsWrong) {
  auto s = parse_shard("2/4");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*s, (Shard{2, 4}));
  EXPECT_EQ(shard_name(*s), "2/4");
  EXPECT_NE(parse_shard("4/4").error().message.find("below N"), std::string::npos);
  EXPECT_NE(parse_shard("-1/4").error().message.find("counts from 0"), std::string::npos);
  EXPECT_NE(parse_shard("2").error().message.find("I/N"), std::string::npos);
  EXPECT_NE(parse_shard("0/0").error().message.find("N must be"), std::string::npos);
  EXPECT_NE(parse_shard("1/2x").error().message.find("whole numbers"), std::string::npos);
}

TEST(Shard, IsFnv1a64OfTheCustomIdModN) {
  // FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of "a" is 0xaf63dc4c8601ec8c, of
  // "req-1" 0xfddbeef2b6ce4891: the values docs/scale-out.md gives.
  EXPECT_EQ(shard_of("a", 1000), static_cast<int64_t>(0xaf63dc4c8601ec8cULL % 1000));
  EXPECT_EQ(shard_of("a", 7), static_cast<int64_t>(0xaf63dc4c8601ec8cULL % 7));
  EXPECT_EQ(shard_of("req-1", 4), static_cast<int64_t>(0xfddbeef2b6ce4891ULL % 4));
  EXPECT_EQ(shard_of("", 7), 0);  // a line without an id goes to shard 0
  EXPECT_EQ(shard_of("anything", 1), 0);
}

TEST(Shard, NShardsTakeEveryLineExactlyOnceAndRoughlyEvenly) {
  BatchInput all;
  for (int i = 0; i < 4000; ++i) all.requests.push_back({.line = i + 1, .custom_id = "c" + std::to_string(i)});
  all.errors.push_back({4001, "", "line 4001: not valid JSON"});
  all.errors.push_back({4002, "c7", "line 4002: duplicate custom_id `c7`"});
  std::multiset<int64_t> seen;
  for (int64_t i = 0; i < 4; ++i) {
    BatchInput part = all;
    keep_shard(part, {i, 4});
    EXPECT_GT(part.requests.size(), 900u);
    EXPECT_LT(part.requests.size(), 1100u);
    for (const auto& l : part.requests) seen.insert(l.line);
    for (const auto& e : part.errors) {
      seen.insert(e.line);
      if (e.custom_id == "c7") {  // the duplicate goes where its first line went
        EXPECT_TRUE(std::any_of(part.requests.begin(), part.requests.end(),
                                [](const InputLine& l) { return l.custom_id == "c7"; }));
      }
    }
  }
  EXPECT_EQ(seen.size(), 4002u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 4002u);
}

TEST(Shard, OutputNameCarriesTheShard) {
  EXPECT_EQ(shard_output_path("/d/out.jsonl", {2, 4}), "/d/out.shard-2-of-4.jsonl");
  EXPECT_EQ(shard_output_path("/d/out.jsonl", {0, 1}), "/d/out.jsonl");
}

}  // namespace
}  // namespace batchwise
