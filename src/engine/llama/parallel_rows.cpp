#include "engine/llama/parallel_rows.h"

#include <utility>

#include "core/thread.h"

namespace batchwise {

ParallelRows::ParallelRows(int threads) {
  // drain() keeps fn's exceptions for the caller, so only a fault of the pool itself can escape a
  // helper; nothing is lost with it: the caller takes every index no helper took.
  for (int i = 0; i < threads; ++i) threads_.push_back(run_thread("llama rows", [this] { work(); }));
}

ParallelRows::~ParallelRows() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : threads_) t.join();
}

void ParallelRows::for_each(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    finished_ = 0;
    ++round_;
  }
  cv_start_.notify_all();
  drain();
  std::unique_lock lock(mu_);
  cv_done_.wait(lock, [&] { return finished_ == n_; });
  fn_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

// Takes indices until none are left; the last one done wakes the caller.
void ParallelRows::drain() {
  std::unique_lock lock(mu_);
  while (fn_ != nullptr && next_ < n_) {
    const size_t i = next_++;
    const auto* fn = fn_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*fn)(i);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = std::move(error);
    if (++finished_ == n_) cv_done_.notify_one();
  }
}

void ParallelRows::work() {
  uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_start_.wait(lock, [&] { return quit_ || round_ != seen; });
      if (quit_) return;
      seen = round_;
    }
    drain();
  }
}

}  // namespace batchwise
