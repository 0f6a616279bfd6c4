#include "engine/llama/parallel_rows.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
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

// A row that throws on a helper thread (llama.cpp's grammar sampler can) once ended the process with
// std::terminate; and one that threw on the caller left helpers running a function that no longer existed.
TEST(ParallelRows, AnExceptionOnAHelperReachesTheCallerAfterTheRoundAndThePoolGoesOn) {
  ParallelRows pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  constexpr size_t kRows = 64;
  std::vector<std::atomic<int>> hits(kRows);
  std::atomic<bool> thrown{false};
  auto round = [&](size_t i) {
    hits[i].fetch_add(1);
    if (std::this_thread::get_id() != caller) {
      if (!thrown.exchange(true)) throw std::runtime_error("row " + std::to_string(i) + " failed");
      return;
    }
    // The caller holds its first row until a helper has thrown, so a helper surely takes one.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!thrown && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  };
  try {
    pool.for_each(kRows, round);
    FAIL() << "the helper's exception did not reach the caller";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(thrown);
  for (size_t i = 0; i < kRows; ++i) EXPECT_EQ(hits[i].load(), 1) << "row " << i << ": every row runs once, even after a throw";

  std::vector<std::atomic<int>> again(kRows);
  pool.for_each(kRows, [&](size_t i) { again[i].fetch_add(1); });  // no exception left over, no helper lost
  for (size_t i = 0; i < kRows; ++i) EXPECT_EQ(again[i].load(), 1) << "row " << i;
}

}  // namespace
}  // namespace batchwise
