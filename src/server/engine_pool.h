// EnginePool: the models `serve` answers for. Each loaded model is an Engine with its own JobRunner,
// stepped by a thread of its own; a model is loaded on first use and kept, at most `max_models` at once.
// To load one more, the least recently used model with no work is unloaded; a model with work in flight
// or jobs queued is never unloaded (the request then waits for a slot, or is refused when none frees).
// Before loading, plan's memory model says whether the model fits in what the device (or RAM) has free.
// Requests for a model that is not a local GGUF go to the --endpoint servers through one HTTP engine,
// with the body's `model` passed on as given.
//
// Threads: every public method may be called from any thread. `on_job_idle` is called on a runner's
// thread when one of its jobs has nothing left to do (finished, cancelled, or stopped by shutdown()).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/http/http_engine.h"
#include "engine/llama/llama_engine.h"
#include "job/job_runner.h"

namespace batchwise {

struct LocalModel {
  std::string id;               // what requests name in `model`: the file's stem ("tiny")
  std::filesystem::path path;   // GGUF
};

struct EnginePoolOptions {
  std::vector<LocalModel> models;
  LlamaEngineOptions llama;     // for every local model (model_path is set per model)
  HttpEngineOptions http;       // endpoints empty: no remote models
  size_t max_models = 2;
  size_t interactive_reserve = 4;  // in-flight slots batch work leaves to interactive requests
};

struct ModelView {
  std::string id;
  bool loaded = false;
  bool remote = false;
  size_t in_flight = 0;
  size_t jobs = 0;
  int64_t loads = 0;
  int64_t evictions = 0;
  EngineStats stats;            // of the loaded engine (zero when not loaded)
};

class EnginePool {
 public:
  using OnJobIdle = std::function<void(std::shared_ptr<Job>)>;
  EnginePool(EnginePoolOptions options, OnJobIdle on_job_idle);
  ~EnginePool();

  // The local model ids, then "endpoint" models (any other name) when endpoints are configured.
  std::vector<std::string> local_ids() const;
  bool has_endpoints() const { return !options_.http.endpoints.empty(); }
  // The id a request for `model` is served under: "" picks the first local model; an unknown name goes to
  // the endpoints when there are any, else to the one local model when there is one, else is kNotFound
  // (naming the served models).
  Expected<std::string> resolve(const std::string& model) const;

  // The runner for a resolved model id, loading the model first if needed. The runner stays valid until
  // shutdown() or until the model is unloaded, which never happens while it holds a job or work.
  Expected<JobRunner*> acquire(const std::string& id);

  std::vector<ModelView> views() const;
  // Stops every runner (work in flight finishes for up to `grace_s`), then unloads everything.
  void shutdown(double grace_s);

 private:
  struct Loaded;
  Status make_room(std::unique_lock<std::mutex>& lock, const std::string& for_id);
  Status check_fits(const LocalModel& model) const;
  void unload(const std::string& id, std::unique_lock<std::mutex>& lock);

  EnginePoolOptions options_;
  OnJobIdle on_job_idle_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Loaded>> loaded_;
  std::map<std::string, int64_t> loads_, evictions_;
  uint64_t use_clock_ = 0;
  bool shut_down_ = false;
};

// The id `serve` gives the HTTP engine's models in views and metrics.
inline constexpr const char* kEndpointModelId = "endpoint";

}  // namespace batchwise
