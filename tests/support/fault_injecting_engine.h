// FaultInjectingEngine: a TEST DOUBLE of Engine, for faults a real engine cannot be made to produce
// on demand (timeouts, 5xx, rate limits, out-of-memory at a chosen rate). It answers on its own
// thread, like a real engine, with a small OpenAI chat body; each call fails with a class chosen by
// a seeded hash of (key, attempt), and every call's outcome is recorded for the test to check.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine.h"

namespace batchwise::test {

class FaultInjectingEngine final : public Engine {
 public:
  struct Fault {
    ErrorCode code;
    double fraction;  // of calls
  };
  FaultInjectingEngine(std::vector<Fault> faults, uint64_t seed, size_t max_in_flight = 16);
  ~FaultInjectingEngine() override;

  Status start(Callback on_done) override;
  bool submit(EngineRequest request) override;
  void stop(bool finish_in_flight) override;
  size_t max_in_flight() const override { return max_in_flight_; }
  EngineStats stats() const override;
  std::string description() const override { return "fault-injecting test double"; }

  // Outcome of every call per key, in call order: nullopt = success.
  std::map<uint64_t, std::vector<std::optional<ErrorCode>>> calls() const;
  // Largest number of requests outstanding at a submit after the first out-of-memory answer.
  size_t max_outstanding_after_oom() const;

 private:
  void loop();

  const std::vector<Fault> faults_;
  const uint64_t seed_;
  const size_t max_in_flight_;
  Callback on_done_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineRequest> queue_;
  bool stopping_ = false;
  size_t outstanding_ = 0;
  bool saw_oom_ = false;
  size_t max_outstanding_after_oom_ = 0;
  std::map<uint64_t, std::vector<std::optional<ErrorCode>>> calls_;
  EngineStats stats_;
};

}  // namespace batchwise::test
