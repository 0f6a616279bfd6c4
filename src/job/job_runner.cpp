#include "job/job_runner.h"

#include <algorithm>
#include <chrono>

#include "core/json_read.h"
#include "core/log.h"

namespace batchwise {
namespace {

constexpr uint64_t kInteractiveKey = 1ull << 63;
constexpr int64_t kSuccessesBeforeRaise = 64;

}  // namespace

// Answers from the engine's threads to the runner's; wake() ends a wait early (new interactive work).
// Both notify while holding the lock: once the runner has taken the last answer it may be destroyed, and
// a notify after the unlock could then reach a destroyed condition variable (TSan found it).
struct JobRunner::Answers {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<EngineResult> items;
  bool woken = false;

  void push(std::vector<EngineResult> results) {
    std::lock_guard lock(mu);
    for (EngineResult& r : results) items.push_back(std::move(r));
    cv.notify_one();
  }
  void wake() {
    std::lock_guard lock(mu);
    woken = true;
    cv.notify_one();
  }
  std::vector<EngineResult> wait_and_take(double timeout_s) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return !items.empty() || woken; });
    woken = false;
    std::vector<EngineResult> out(std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
    items.clear();
    return out;
  }
};

JobRunner::JobRunner(Engine& engine, RunnerOptions options)
    : engine_(engine), options_(options), answers_(std::make_unique<Answers>()) {}

JobRunner::~JobRunner() = default;

Status JobRunner::start() {
  limit_ = max_limit_ = lowest_limit_ = std::max<size_t>(1, engine_.max_in_flight());
  Answers* answers = answers_.get();
  return engine_.start([answers](std::vector<EngineResult> r) { answers->push(std::move(r)); });
}

void JobRunner::add(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back({next_slot_++, std::move(job)});
  }
  answers_->wake();
}

std::vector<std::shared_ptr<Job>> JobRunner::jobs() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Job>> out;
  for (const Slot& s : jobs_) out.push_back(s.job);
  return out;
}

JobRunner::Slot* JobRunner::find_slot(uint32_t id) {
  for (Slot& s : jobs_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

bool JobRunner::submit_interactive(EngineRequest request, InteractiveDone done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    waiting_interactive_.push_back({std::move(request), std::move(done)});
  }
  answers_->wake();
  return true;
}

void JobRunner::step(double wait_s) {
  dispatch();
  for (EngineResult& answer : answers_->wait_and_take(wait_s)) handle(std::move(answer));
}

void JobRunner::dispatch() {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  while (!waiting_interactive_.empty() && in_flight_ < limit_) {
    Interactive item = std::move(waiting_interactive_.front());
    waiting_interactive_.pop_front();
    const uint64_t key = kInteractiveKey | next_interactive_++;
    item.request.key = key;
    if (!engine_.submit(std::move(item.request))) return;
    interactive_done_[key] = std::move(item.done);
    in_flight_++;
  }
  const size_t batch_limit = std::max<size_t>(1, limit_ > options_.interactive_reserve
                                                     ? limit_ - options_.interactive_reserve
                                                     : 1);
  for (const Slot& slot : jobs_) {
    Job* job = slot.job.get();
    while (in_flight_ < batch_limit) {
      std::optional<EngineRequest> request = job->next_request();
      if (!request) break;
      if (!request->body_text.empty() && !engine_.takes_body_text()) {
        // The engine reads fields out of the body: parse it here, once (the scan checked it is JSON).
        std::optional<nlohmann::json> body = parse_json_bounded(request->body_text);
        if (body) {
          request->body = std::move(*body);
          request->body_text.clear();
        }
      }
      const int64_t line = static_cast<int64_t>(request->key);
      request->key = (static_cast<uint64_t>(slot.id) << 32) | static_cast<uint64_t>(line);
      if (!engine_.submit(std::move(*request))) {
        job->give_back(line);
        return;
      }
      in_flight_++;
    }
  }
}

void JobRunner::handle(EngineResult answer) {
  std::unique_lock lock(mu_);
  in_flight_--;
  if (answer.key & kInteractiveKey) {
    auto it = interactive_done_.find(answer.key);
    if (it == interactive_done_.end()) return;
    InteractiveDone done = std::move(it->second);
    interactive_done_.erase(it);
    lock.unlock();
    done(std::move(answer));
    return;
  }
  Slot* slot = find_slot(static_cast<uint32_t>(answer.key >> 32));
  if (!slot) return;  // cannot happen: a job is removed only with nothing in flight
  answer.key &= 0xffffffffull;
  adapt_limit(slot->job->on_answer(std::move(answer), stopping_));
}

void JobRunner::adapt_limit(const AnswerEffect& effect) {
  if (effect.out_of_memory && limit_ > 1) {
    limit_ = std::max<size_t>(1, limit_ / 2);
    ok_since_cut_ = 0;
    if (limit_ < lowest_limit_) {  // say it once per new low, not for every request
      lowest_limit_ = limit_;
      log_warn("engine out of memory: lowering requests in flight to " + std::to_string(limit_));
    }
  } else if (effect.succeeded && limit_ < max_limit_ && ++ok_since_cut_ >= kSuccessesBeforeRaise) {
    limit_++;
    ok_since_cut_ = 0;
  }
}

namespace {

EngineResult stopping_answer(uint64_t key) {
  EngineResult r;
  r.key = key;
  r.status_code = 503;
  r.error = Error{ErrorCode::kCancelled, "the server is stopping"};
  return r;
}

}  // namespace

void JobRunner::abandon_interactive() {
  std::deque<Interactive> waiting;
  std::unordered_map<uint64_t, InteractiveDone> in_flight;
  {
    std::lock_guard lock(mu_);
    waiting.swap(waiting_interactive_);
    in_flight.swap(interactive_done_);
  }
  for (Interactive& item : waiting) item.done(stopping_answer(item.request.key));
  for (auto& [key, done] : in_flight) done(stopping_answer(key));
}

void JobRunner::stop(bool finish_in_flight) {
  std::deque<Interactive> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && (finish_in_flight || stopped_hard_)) return;
    stopping_ = true;
    stopped_hard_ = stopped_hard_ || !finish_in_flight;
    dropped.swap(waiting_interactive_);
  }
  for (Interactive& item : dropped) item.done(stopping_answer(item.request.key));
  engine_.stop(finish_in_flight);
}

bool JobRunner::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

size_t JobRunner::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

size_t JobRunner::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

bool JobRunner::idle() const {
  std::lock_guard lock(mu_);
  if (in_flight_ > 0 || !waiting_interactive_.empty()) return false;
  return std::all_of(jobs_.begin(), jobs_.end(), [&](const Slot& s) { return stopping_ || s.job->idle(); });
}

std::vector<std::shared_ptr<Job>> JobRunner::remove_idle() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Job>> removed;
  std::erase_if(jobs_, [&](const Slot& s) {
    const bool gone = s.job->in_flight() == 0 && (stopping_ || s.job->idle());
    if (gone) removed.push_back(s.job);
    return gone;
  });
  return removed;
}

}  // namespace batchwise
