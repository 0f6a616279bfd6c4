// How long the HTTP engine waits for an answer, from the answers seen so far.
#include "engine/http/observed_timeout.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(ObservedTimeout, TheFixedLimitHoldsUntilEnoughAnswersCame) {
  ObservedTimeout t({.fixed_limit_s = 600, .p99_multiple = 4, .floor_s = 1, .min_answers = 32});
  for (int i = 0; i < 31; ++i) t.on_answer(2.0);
  EXPECT_EQ(t.limit_s(), 600);
  EXPECT_FALSE(t.observed());
  t.on_answer(2.0);
  EXPECT_DOUBLE_EQ(t.limit_s(), 8.0);
  EXPECT_TRUE(t.observed());
}

TEST(ObservedTimeout, TheLimitIsAMultipleOfTheP99NotOfTheMean) {
  ObservedTimeout t({.fixed_limit_s = 600, .p99_multiple = 4, .floor_s = 1, .min_answers = 32, .window = 1000});
  // 1,000 answers: 980 of 1 s, 20 of 10 s. The p99 is 10 s: a slow minority is not timed out.
  for (int i = 0; i < 1000; ++i) t.on_answer(i % 50 == 0 ? 10.0 : 1.0);
  EXPECT_DOUBLE_EQ(t.p99_s(), 10.0);
  EXPECT_DOUBLE_EQ(t.limit_s(), 40.0);
}

TEST(ObservedTimeout, FloorAndFixedLimitBoundIt) {
  ObservedTimeout fast({.fixed_limit_s = 600, .p99_multiple = 4, .floor_s = 30, .min_answers = 32});
  for (int i = 0; i < 64; ++i) fast.on_answer(0.05);
  EXPECT_DOUBLE_EQ(fast.limit_s(), 30.0) << "answers of 50 ms do not make a 200 ms timeout";
  ObservedTimeout slow({.fixed_limit_s = 60, .p99_multiple = 4, .floor_s = 30, .min_answers = 32});
  for (int i = 0; i < 64; ++i) slow.on_answer(50.0);
  EXPECT_DOUBLE_EQ(slow.limit_s(), 60.0) << "--request-timeout caps it";
  EXPECT_FALSE(slow.observed());
}

TEST(ObservedTimeout, TheWindowFollowsTheServerAsItSlowsDown) {
  ObservedTimeout t({.fixed_limit_s = 600, .p99_multiple = 4, .floor_s = 1, .min_answers = 32, .window = 64});
  for (int i = 0; i < 64; ++i) t.on_answer(1.0);
  EXPECT_DOUBLE_EQ(t.limit_s(), 4.0);
  for (int i = 0; i < 64; ++i) t.on_answer(5.0);
  EXPECT_DOUBLE_EQ(t.limit_s(), 20.0);
}

TEST(ObservedTimeout, MultipleZeroKeepsTheFixedLimit) {
  ObservedTimeout t({.fixed_limit_s = 600, .p99_multiple = 0});
  for (int i = 0; i < 100; ++i) t.on_answer(1.0);
  EXPECT_EQ(t.limit_s(), 600);
}

}  // namespace
}  // namespace batchwise
