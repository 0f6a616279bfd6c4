// run_child's memory figures are the trial's own: a forked child starts as a copy of the tuner, and the
// kernel's peak for it (ru_maxrss) keeps those pages past exec. Found under ASan (issue 17), whose
// runtime makes the tuner itself hundreds of MiB: `tune --memory-limit 90M` judged every trial too big.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tune/child_process.h"

namespace batchwise {
namespace {

TEST(ChildProcess, ATrialsPeakMemoryLeavesOutWhatItInheritedAtTheFork) {
  // 256 MiB resident in this process, far above what `sleep` holds.
  std::vector<char> ballast(size_t{256} << 20);
  std::memset(ballast.data(), 1, ballast.size());
  ChildOptions o;
  o.argv = {"sleep", "0.2"};
  o.memory_limit_bytes = int64_t{64} << 20;
  auto r = run_child(o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->exited_ok()) << r->err;
  EXPECT_FALSE(r->over_memory_limit);
  EXPECT_GT(r->peak_rss_bytes, 0);
  EXPECT_LT(r->peak_rss_bytes, int64_t{64} << 20);
  EXPECT_EQ(ballast[ballast.size() / 2], 1);  // the ballast stays alive to the end
}

TEST(ChildProcess, AShortTrialsPeakComesFromTheKernelWhenAboveTheFork) {
  // A child that allocates 300 MiB and exits at once, before a sample: the kernel's figure counts.
  ChildOptions o;
  o.argv = {"python3", "-c", "b = bytearray(300 << 20)"};
  o.sample_interval_s = 10;
  auto r = run_child(o);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->exited_ok()) << r->err;
  EXPECT_GT(r->peak_rss_bytes, int64_t{300} << 20);
}

}  // namespace
}  // namespace batchwise
