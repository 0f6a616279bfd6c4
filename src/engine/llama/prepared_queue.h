// PreparedQueue: the embedded engine's requests between submit() and a lane. Submitted requests
// wait for a preparer thread (parse, render, tokenize); prepared ones wait for a lane with a free
// sequence. It also holds the stop flags every thread of the engine checks, and the failure that
// stopped the engine when one of its threads failed.
//
// Threads: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "engine/engine.h"
#include "engine/llama/llama_request_preparer.h"

namespace batchwise {

class PreparedQueue {
 public:
  explicit PreparedQueue(size_t capacity) : capacity_(capacity) {}

  // Submitters: blocks while `capacity` requests wait in either queue; false once stopped.
  bool submit(EngineRequest request, double submitted_s);

  // Preparer threads: the next submitted request, or nullopt once stopped.
  std::optional<std::pair<EngineRequest, double>> next_submitted();
  void push_prepared(PreparedRequest p);

  // Lanes: blocks until a prepared request waits or the engine stops, unless `busy` (the lane has
  // sequences to step). Returns false when the lane should end: stopped, and either told not to
  // finish what is in flight or with nothing in flight.
  bool wait_for_work(bool busy);
  // The oldest prepared request, or nullopt (none, or stopping).
  std::optional<PreparedRequest> take();
  // Back to the front: the lane could not admit it yet (no KV cells, or its prefix is still being
  // evaluated).
  void put_back(PreparedRequest p);

  void stop(bool finish_in_flight);
  // An engine thread's work failed (an exception escaped it): stops as stop(false) does, and keeps the
  // first such error for Engine::failure(), so the runner ends with the work not done left pending
  // instead of sending it to an engine that takes nothing more.
  void fail(Error error);
  std::optional<Error> failure() const;
  // At shutdown: every request that never reached a lane, prepared or not.
  std::deque<PreparedRequest> drain();

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_space_;     // submitters: room in the queues
  std::condition_variable cv_submitted_; // preparers: a request to prepare
  std::condition_variable cv_prepared_;  // lanes: prepared work or stop
  std::deque<std::pair<EngineRequest, double>> submitted_;  // request, submit time (s)
  std::deque<PreparedRequest> prepared_;
  bool stopping_ = false;
  bool finish_in_flight_ = true;
  std::optional<Error> failure_;
};

}  // namespace batchwise
