#include "fault_injecting_engine.h"

#include "core/files.h"

namespace batchwise::test {

FaultInjectingEngine::FaultInjectingEngine(std::vector<Fault> faults, uint64_t seed, size_t max_in_flight)
    : faults_(std::move(faults)), seed_(seed), max_in_flight_(max_in_flight) {}

FaultInjectingEngine::~FaultInjectingEngine() {
  stop(false);
  if (thread_.joinable()) thread_.join();
}

Status FaultInjectingEngine::start(Callback on_done) {
  on_done_ = std::move(on_done);
  thread_ = std::thread([this] { loop(); });
  return {};
}

bool FaultInjectingEngine::submit(EngineRequest request) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  outstanding_++;
  if (saw_oom_) max_outstanding_after_oom_ = std::max(max_outstanding_after_oom_, outstanding_);
  queue_.push_back(std::move(request));
  cv_.notify_one();
  return true;
}

void FaultInjectingEngine::stop(bool) {
  std::lock_guard lock(mu_);
  stopping_ = true;
  cv_.notify_all();
}

EngineStats FaultInjectingEngine::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::map<uint64_t, std::vector<std::optional<ErrorCode>>> FaultInjectingEngine::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

size_t FaultInjectingEngine::max_outstanding_after_oom() const {
  std::lock_guard lock(mu_);
  return max_outstanding_after_oom_;
}

void FaultInjectingEngine::loop() {
  while (true) {
    EngineRequest request;
    std::optional<ErrorCode> fault;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      request = std::move(queue_.front());
      queue_.pop_front();
      auto& history = calls_[request.key];
      const std::string id = std::to_string(request.key) + "/" + std::to_string(history.size());
      const double u = static_cast<double>(fnv1a64(id, seed_) >> 11) * 0x1.0p-53;
      double edge = 0;
      for (const auto& f : faults_) {
        edge += f.fraction;
        if (u < edge) {
          fault = f.code;
          break;
        }
      }
      history.push_back(fault);
      if (fault == ErrorCode::kOutOfMemory) saw_oom_ = true;
      outstanding_--;
      (fault ? stats_.requests_failed : stats_.requests_done)++;
    }
    EngineResult r;
    r.key = request.key;
    if (fault) {
      r.status_code = 500;
      r.error = Error{*fault, "injected " + std::string(error_code_name(*fault))};
    } else {
      r.prompt_tokens = 10;
      r.completion_tokens = 2;
      r.body = {{"object", "chat.completion"},
                {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "ok"}}}, {"finish_reason", "stop"}}}},
                {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 2}, {"total_tokens", 12}}}};
    }
    on_done_(Engine::one(std::move(r)));
  }
}

}  // namespace batchwise::test
