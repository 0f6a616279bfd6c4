#include "engine/llama/greedy_argmax.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace batchwise {
namespace {

TEST(GreedyArgmax, AgreesWithMaxElementOnRandomRowsOfEveryLength) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int32_t n : {1, 2, 15, 16, 17, 31, 1000, 128256}) {
    std::vector<float> row(static_cast<size_t>(n));
    for (auto& v : row) v = dist(rng);
    EXPECT_EQ(greedy_argmax(row.data(), n), std::max_element(row.begin(), row.end()) - row.begin()) << n;
  }
}

TEST(GreedyArgmax, TiesGoToTheFirstIndexAndTheTailCounts) {
  std::vector<float> row(100, 0.0f);
  row[40] = row[70] = 5.0f;
  EXPECT_EQ(greedy_argmax(row.data(), 100), 40);
  row[99] = 9.0f;  // past the last full 16-lane block
  EXPECT_EQ(greedy_argmax(row.data(), 100), 99);
}

TEST(GreedyArgmax, HandlesNegativeInfinityAndEmptyRows) {
  std::vector<float> row(20, -INFINITY);
  row[3] = -1e30f;
  EXPECT_EQ(greedy_argmax(row.data(), 20), 3);
  EXPECT_EQ(greedy_argmax(row.data(), 0), -1);
}

}  // namespace
}  // namespace batchwise
