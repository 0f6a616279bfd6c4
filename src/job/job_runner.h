// JobRunner: drives jobs on one engine — one job for `run`, any number for `serve`, trials for `tune`.
// It keeps the engine fed up to its in-flight limit, interactive requests first, then the jobs in the
// order they were added (the first job with work to send goes first, so a batch keeps its prompt prefix
// hot in the engine's cache); it routes every answer back to the job that sent it, lowers the limit
// after an out-of-memory answer and raises it again after a run of successes.
//
// An engine answer's key is (job slot << 32 | line), so the first job's keys are its line numbers.
//
// Threads: step() is called from one thread (the runner's); the other methods from any thread (a Job's
// cancel() and counts() too). The engine
// delivers answers on its own threads into a queue that step() drains.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "job/job.h"

namespace batchwise {

struct RunnerOptions {
  // In-flight slots that batch work leaves free, so an interactive request never waits behind a full
  // engine queue (serve); 0 for a plain run.
  size_t interactive_reserve = 0;
};

class JobRunner {
 public:
  using InteractiveDone = std::function<void(EngineResult)>;

  JobRunner(Engine& engine, RunnerOptions options = {});
  ~JobRunner();

  // Starts the engine (which must not be started yet).
  Status start();

  // Adds a job; its requests are sent after those of jobs added before it.
  void add(std::shared_ptr<Job> job);
  // The jobs it holds, in dispatch order.
  std::vector<std::shared_ptr<Job>> jobs() const;

  // Sends `request` ahead of all batch work; `done` gets the answer on the runner's thread. Returns
  // false when the runner is stopping (then `done` is not called).
  bool submit_interactive(EngineRequest request, InteractiveDone done);

  // Sends what it can, waits up to `wait_s` for answers and hands each to its job. Jobs that are idle
  // and flushed stay in the list until remove_idle() takes them.
  void step(double wait_s);

  // Stop taking work: nothing more is sent; the engine finishes what it holds when `finish_in_flight`,
  // else cancels it. Answers still arrive through step(). Idempotent; the stronger call wins.
  void stop(bool finish_in_flight);
  bool stopping() const;
  // After the thread that calls step() has ended for good: every interactive request still outstanding
  // (waiting or in flight) is answered 503 now, so that no caller waits for an answer that cannot come.
  void abandon_interactive();

  // Answers outstanding: batch and interactive.
  size_t in_flight() const;
  // The in-flight limit now (lowered after out-of-memory answers).
  size_t limit() const;
  // No job has anything to send or in flight, and no interactive request is outstanding.
  bool idle() const;
  // Removes and returns the jobs that are idle (finished, cancelled or stopped with nothing in flight).
  std::vector<std::shared_ptr<Job>> remove_idle();

  Engine& engine() { return engine_; }

 private:
  struct Interactive {
    EngineRequest request;
    InteractiveDone done;
  };
  struct Answers;
  void dispatch();
  void handle(EngineResult answer);
  void adapt_limit(const AnswerEffect& effect);

  Engine& engine_;
  RunnerOptions options_;
  std::unique_ptr<Answers> answers_;

  mutable std::mutex mu_;  // guards everything below but answers_
  struct Slot {
    uint32_t id;
    std::shared_ptr<Job> job;
  };
  Slot* find_slot(uint32_t id);
  std::vector<Slot> jobs_;  // in dispatch order; a handful, so found by a scan
  uint32_t next_slot_ = 0;
  std::deque<Interactive> waiting_interactive_;
  std::unordered_map<uint64_t, InteractiveDone> interactive_done_;
  uint64_t next_interactive_ = 0;
  bool stopping_ = false;
  bool stopped_hard_ = false;

  size_t in_flight_ = 0;  // guarded by mu_
  size_t limit_ = 1;
  size_t max_limit_ = 1;
  size_t lowest_limit_ = 1;
  int64_t ok_since_cut_ = 0;
};

}  // namespace batchwise
