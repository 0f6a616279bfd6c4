// ParallelRows: a small fixed pool that runs one function over the indices 0..n-1 and returns when
// all are done (fork-join). The engine uses it for per-row work after a decode step (greedy argmax,
// logprobs over a 128k vocabulary) so that it does not run on one core while the device waits.
//
// An exception from `fn` (llama.cpp's grammar sampler throws) does not end a helper thread: the round
// still runs every index, so no helper is left using `fn` after for_each returns, and then the first
// exception is thrown again on the caller's thread, where the lane's boundary fails its requests.
//
// Threads: for_each() is called from one thread at a time (the engine thread), which also works.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace batchwise {

class ParallelRows {
 public:
  explicit ParallelRows(int threads);  // helpers beside the caller; 0 runs everything on the caller
  ~ParallelRows();
  ParallelRows(const ParallelRows&) = delete;
  ParallelRows& operator=(const ParallelRows&) = delete;

  void for_each(size_t n, const std::function<void(size_t)>& fn);

 private:
  void work();
  void drain();

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_start_;
  std::condition_variable cv_done_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  size_t next_ = 0;       // next index to take, under mu_
  size_t finished_ = 0;   // indices done, under mu_
  uint64_t round_ = 0;    // bumps once per for_each so helpers wake once
  bool quit_ = false;
  std::exception_ptr error_;  // the round's first exception from fn, under mu_
};

}  // namespace batchwise
