#include "engine/llama/prepared_queue.h"

namespace batchwise {

bool PreparedQueue::submit(EngineRequest request, double submitted_s) {
  std::unique_lock lock(mu_);
  cv_space_.wait(lock, [&] { return stopping_ || submitted_.size() + prepared_.size() < capacity_; });
  if (stopping_) return false;
  submitted_.emplace_back(std::move(request), submitted_s);
  cv_submitted_.notify_one();
  return true;
}

std::optional<std::pair<EngineRequest, double>> PreparedQueue::next_submitted() {
  std::unique_lock lock(mu_);
  cv_submitted_.wait(lock, [&] { return stopping_ || !submitted_.empty(); });
  if (stopping_) return std::nullopt;
  auto item = std::move(submitted_.front());
  submitted_.pop_front();
  return item;
}

void PreparedQueue::push_prepared(PreparedRequest p) {
  std::lock_guard lock(mu_);
  prepared_.push_back(std::move(p));
  cv_prepared_.notify_one();
}

bool PreparedQueue::wait_for_work(bool busy) {
  std::unique_lock lock(mu_);
  if (!busy) cv_prepared_.wait(lock, [&] { return stopping_ || !prepared_.empty(); });
  return !(stopping_ && (!finish_in_flight_ || !busy));
}

std::optional<PreparedRequest> PreparedQueue::take() {
  std::lock_guard lock(mu_);
  if (stopping_ || prepared_.empty()) return std::nullopt;
  PreparedRequest p = std::move(prepared_.front());
  prepared_.pop_front();
  cv_space_.notify_one();
  return p;
}

void PreparedQueue::put_back(PreparedRequest p) {
  std::lock_guard lock(mu_);
  prepared_.push_front(std::move(p));
  // Another lane may have room for it.
  cv_prepared_.notify_one();
}

void PreparedQueue::stop(bool finish_in_flight) {
  std::lock_guard lock(mu_);
  if (!stopping_) finish_in_flight_ = finish_in_flight;
  else finish_in_flight_ = finish_in_flight_ && finish_in_flight;
  stopping_ = true;
  cv_space_.notify_all();
  cv_submitted_.notify_all();
  cv_prepared_.notify_all();
}

void PreparedQueue::fail(Error error) {
  {
    std::lock_guard lock(mu_);
    if (!failure_) failure_ = std::move(error);
  }
  stop(false);
}

std::optional<Error> PreparedQueue::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::deque<PreparedRequest> PreparedQueue::drain() {
  std::lock_guard lock(mu_);
  std::deque<PreparedRequest> left;
  left.swap(prepared_);
  for (auto& [request, submitted_s] : submitted_) left.push_back(PreparedRequest{std::move(request), {}, {}, {}, submitted_s});
  submitted_.clear();
  cv_space_.notify_all();
  return left;
}

}  // namespace batchwise
