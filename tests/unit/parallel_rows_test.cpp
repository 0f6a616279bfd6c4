#include "engine/llama/parallel_rows.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace batchwise {
namespace {

TEST(ParallelRows, EveryIndexRunsExactlyOnceInEveryRound) {
  ParallelRows pool(3);
  for (size_t n : {0u, 1u, 2u, 7u, 128u, 1000u}) {
    for (int round = 0; round < 20; ++round) {
      std::vector<std::atomic<int>> hits(n);
      pool.for_each(n, [&](size_t i) { hits[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ParallelRows, WithoutHelpersTheCallerDoesAllTheWork) {
  ParallelRows pool(0);
  std::vector<int> seen;
  pool.for_each(5, [&](size_t i) { seen.push_back(static_cast<int>(i)); });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace batchwise
