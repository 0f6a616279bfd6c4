// ConcurrencyLimiter: the adaptive per-endpoint limit, driven by made-up latencies and by a simulated
// server (a fixed number of requests served at once, the rest queued), on a simulated clock.
#include "engine/http/concurrency_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <queue>
#include <vector>

namespace batchwise {
namespace {

// Feeds `n` completions of `latency_ms`, each seen with the endpoint full (outstanding = limit), as a
// server that serves any number at once would deliver them (limit / latency per second).
struct Feeder {
  ConcurrencyLimiter& c;
  double now_s = 0;
  void feed(int n, double latency_ms) {
    for (int i = 0; i < n; ++i) {
      now_s += latency_ms / 1000.0 / c.limit();
      c.on_success(latency_ms, c.limit(), now_s);
    }
  }
  // A saturated server: answers come at `rps` whatever the limit, so each waits limit / rps (Little).
  void feed_queued(int n, double rps) {
    for (int i = 0; i < n; ++i) {
      now_s += 1 / rps;
      c.on_success(c.limit() / rps * 1000.0, c.limit(), now_s);
    }
  }
};

// A server that serves `capacity` requests at once (0: any number), each taking service_ms(k) with k
// requests in service when it starts; more wait in its queue. The client keeps limit() requests out.
struct SimulatedServer {
  int capacity = 0;
  std::function<double(int)> service_ms;
  std::vector<double> latencies_ms;  // in completion order
  std::vector<int> limits;           // the limit after each completion

  void run(ConcurrencyLimiter& c, int completions) {
    struct Done {
      double at_s;
      double sent_s;
      bool operator>(const Done& o) const { return at_s > o.at_s; }
    };
    std::priority_queue<Done, std::vector<Done>, std::greater<>> serving;
    std::deque<double> queued;  // sent times
    double now = 0;
    int outstanding = 0;
    auto start = [&](double sent_s) {
      const int k = static_cast<int>(serving.size()) + 1;
      serving.push({now + service_ms(k) / 1000.0, sent_s});
    };
    auto send = [&] {
      while (outstanding < c.limit()) {
        outstanding++;
        if (capacity == 0 || static_cast<int>(serving.size()) < capacity) start(now);
        else queued.push_back(now);
      }
    };
    send();
    for (int i = 0; i < completions; ++i) {
      const Done d = serving.top();
      serving.pop();
      now = d.at_s;
      const int before = outstanding--;
      latencies_ms.push_back((now - d.sent_s) * 1000);
      c.on_success(latencies_ms.back(), before, now);
      limits.push_back(c.limit());
      if (!queued.empty()) {
        start(queued.front());
        queued.pop_front();
      }
      send();
    }
  }
  double median_ms_of_last(size_t n) const {
    std::vector<double> v(latencies_ms.end() - static_cast<std::ptrdiff_t>(n), latencies_ms.end());
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }
  double mean_limit_of_last(size_t n) const {
    double sum = 0;
    for (size_t i = limits.size() - n; i < limits.size(); ++i) sum += limits[i];
    return sum / static_cast<double>(n);
  }
};

TEST(ConcurrencyLimiter, StartsAtInitialClampedToMax) {
  EXPECT_EQ(ConcurrencyLimiter({.initial = 8, .max = 64}).limit(), 8);
  EXPECT_EQ(ConcurrencyLimiter({.initial = 8, .max = 4}).limit(), 4);
}

TEST(ConcurrencyLimiter, GrowsToMaxWhileLatencyStaysFlat) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  Feeder f{c};
  f.feed(2000, 10.0);
  EXPECT_EQ(c.limit(), 32);
}

TEST(ConcurrencyLimiter, DoesNotGrowWhenTheEndpointIsNotFull) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  for (int i = 0; i < 1000; ++i) c.on_success(10.0, 2, i * 0.01);
  EXPECT_EQ(c.limit(), 8);
}

TEST(ConcurrencyLimiter, FallsWhenLatencyRisesAndRecoversWhenItDrops) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  Feeder f{c};
  f.feed(2000, 10.0);
  ASSERT_EQ(c.limit(), 32);
  f.feed_queued(300, 100.0);  // queueing at the server: 320 ms at 32 in flight, and no more answers a second
  EXPECT_LE(c.limit(), 4);
  f.feed(3000, 10.0);
  EXPECT_EQ(c.limit(), 32);
}

TEST(ConcurrencyLimiter, SmallAbsoluteJitterOnAFastServerIsNotQueueing) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  Feeder f{c};
  f.feed(500, 0.2);
  f.feed(2000, 2.0);  // 10x, but only 1.8 ms more: under the 5 ms slack
  EXPECT_EQ(c.limit(), 32);
}

// Issue 26 item 4: against a server that serves 4 at a time (50 ms each), the old limiter climbed to
// 64 with a p50 of 1.6 s: started at 8, every window was already queued, so latency never looked high.
TEST(ConcurrencyLimiter, SettlesNearAFixedCapacityWithLatencyWithinTwiceTheServiceTime) {
  for (const int initial : {1, 8, 64}) {
    ConcurrencyLimiter c({.initial = initial, .max = 64});
    SimulatedServer server{.capacity = 4, .service_ms = [](int) { return 50.0; }};
    server.run(c, 4000);
    const double p50 = server.median_ms_of_last(2000);
    const double mean_limit = server.mean_limit_of_last(2000);
    EXPECT_LT(p50, 100.0) << "starting at " << initial;
    EXPECT_GE(mean_limit, 3.0) << "starting at " << initial;
    EXPECT_LE(mean_limit, 8.0) << "starting at " << initial;
    std::printf("capacity 4 x 50 ms, start %d: mean limit %.2f, p50 %.1f ms\n", initial, mean_limit, p50);
  }
}

// A server that became 20x slower for everyone (any number at once): cutting the limit only cuts
// throughput, so the new latency becomes the norm instead.
TEST(ConcurrencyLimiter, AServerSlowerForEveryoneKeepsItsLimit) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  Feeder f{c};
  f.feed(2000, 10.0);
  ASSERT_EQ(c.limit(), 32);
  f.feed(2000, 200.0);
  EXPECT_GE(c.limit(), 16);
}

// A slow server that serves any number at once: more in flight is more throughput, whatever the latency.
TEST(ConcurrencyLimiter, ASlowServerWithoutACapacityGetsTheWholeLimit) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  SimulatedServer server{.capacity = 0, .service_ms = [](int) { return 100.0; }};
  server.run(c, 4000);
  EXPECT_GE(server.mean_limit_of_last(2000), 28.0);
}

// llama-server's slots: a bigger batch is slower per request but more requests per second in all.
TEST(ConcurrencyLimiter, ABatchingServerThatGainsThroughputKeepsItsSlotsFull) {
  ConcurrencyLimiter c({.initial = 8, .max = 64});
  c.cap_at(32, true);
  EXPECT_EQ(c.limit(), 32);
  SimulatedServer server{.capacity = 32, .service_ms = [](int k) { return 500.0 * (1 + k / 32.0); }};
  server.run(c, 4000);
  EXPECT_GE(server.mean_limit_of_last(2000), 28.0);
  EXPECT_LE(*std::max_element(server.limits.begin(), server.limits.end()), 32);
}

TEST(ConcurrencyLimiter, OverloadHalvesOncePerWindowAndNeverBelowMin) {
  ConcurrencyLimiter c({.initial = 16, .max = 32});
  c.on_overload();
  EXPECT_EQ(c.limit(), 8);
  c.on_overload();  // a burst of 429s from the same moment counts once
  EXPECT_EQ(c.limit(), 8);
  Feeder f{c};
  f.feed(16, 10.0);  // a new window
  c.on_overload();
  EXPECT_LE(c.limit(), 5);
  ConcurrencyLimiter one({.initial = 1, .max = 32});
  one.on_overload();
  EXPECT_EQ(one.limit(), 1);
}

TEST(ConcurrencyLimiter, ResetGoesBackToInitial) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  Feeder f{c};
  f.feed(2000, 10.0);
  c.reset();
  EXPECT_EQ(c.limit(), 8);
}

}  // namespace
}  // namespace batchwise
