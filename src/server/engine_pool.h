// EnginePool: the models `serve` answers for. Each loaded model is an Engine with its own JobRunner,
// stepped by a thread of its own; a model is loaded on first use and kept, at most `max_models` at once.
//
// A caller uses a model through a ModelLease: while any lease on a model is held (an interactive request
// waiting for its answer, a batch from its start to its finish), that model is pinned and never
// unloaded. To load one more model, the least recently used model that nobody holds and that has no
// work is unloaded. When every loaded model is pinned, the caller claims the slot of the least recently
// used model pinned only by interactive requests (seconds each): that model takes no new lease until
// it is unloaded and the claimed model loaded in its place, so clients that keep one model busy cannot
// starve another. The claim lasts while the caller waits (AcquireOptions::wait_s) and at least
// kClaimHoldS, so a caller that asks again each second (serve's batch starts) keeps it; a model just
// loaded has a turn of kClaimHoldS before its slot may be claimed back. A model held by a batch is never claimed: callers for other models get kUnavailable (serve's 503 with Retry-After).
// Loading (seconds for a real model) happens outside the pool's lock: a second acquire of the model
// being loaded waits for that load; acquires of other models, views() and /metrics do not wait.
// Before loading, plan's memory model says whether the model fits in what the device (or RAM) has free.
// Requests for a model that is not a local GGUF go to the --endpoint servers through one HTTP engine,
// with the body's `model` passed on as given.
//
// Threads: every public method may be called from any thread but a runner's own. `on_job_idle` is called
// on a runner's thread when one of its jobs has nothing left to do (finished, cancelled, or stopped by
// shutdown()). The pool must outlive every lease it gave out.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
  bool loading = false;
  bool remote = false;
  size_t in_flight = 0;
  size_t jobs = 0;
  size_t leases = 0;
  int64_t loads = 0;
  int64_t evictions = 0;
  EngineStats stats;            // of the loaded engine (zero when not loaded)
};

class EnginePool;

struct AcquireOptions {
  // How long to wait for a slot that another model's interactive requests hold (0: answer at once).
  double wait_s = 0;
  // The lease is a batch's, held from its start to its finish: its model's slot is never claimed.
  bool for_batch = false;
};

// How long a claim on a slot lasts past a caller that does not wait for it, and the turn a model just
// loaded has before its slot may be claimed back.
inline constexpr double kClaimHoldS = 2.0;

// A loaded model, pinned while the lease lives. Move-only; an empty lease (default-made) pins nothing.
class ModelLease {
 public:
  struct Model;
  ModelLease() = default;
  ModelLease(ModelLease&& other) noexcept;
  ModelLease& operator=(ModelLease&& other) noexcept;
  ModelLease(const ModelLease&) = delete;
  ModelLease& operator=(const ModelLease&) = delete;
  ~ModelLease();

  explicit operator bool() const { return model_ != nullptr; }
  JobRunner& runner() const;
  const std::string& id() const;
  // Gives the pin back now (the destructor does it too).
  void release();

 private:
  friend class EnginePool;
  ModelLease(EnginePool* pool, std::shared_ptr<Model> model, bool for_batch);
  EnginePool* pool_ = nullptr;
  std::shared_ptr<Model> model_;
  bool for_batch_ = false;
};

class EnginePool {
 public:
  using OnJobIdle = std::function<void(std::shared_ptr<Job>)>;
  EnginePool(EnginePoolOptions options, OnJobIdle on_job_idle);
  ~EnginePool();
  EnginePool(const EnginePool&) = delete;
  EnginePool& operator=(const EnginePool&) = delete;

  // The local model ids, then "endpoint" models (any other name) when endpoints are configured.
  std::vector<std::string> local_ids() const;
  bool has_endpoints() const { return !options_.http.endpoints.empty(); }
  // The id a request for `model` is served under: "" picks the first local model; an unknown name goes to
  // the endpoints when there are any, else to the one local model when there is one, else is kNotFound
  // (naming the served models).
  Expected<std::string> resolve(const std::string& model) const;

  // A lease on the model with this resolved id, loading it first if needed (or waiting for the load
  // another caller started, or for a claimed slot up to options.wait_s). kUnavailable: every model slot
  // is pinned now (or claimed for another model), or the pool is shutting down; kNotFound, kOutOfMemory
  // or the engine's error: the model cannot be loaded at all.
  Expected<ModelLease> acquire(const std::string& id, AcquireOptions options = {});

  std::vector<ModelView> views() const;
  // Stops every runner (work in flight finishes for up to `grace_s`, then is cancelled), resolves every
  // interactive request still waiting (503), and unloads what no lease holds. Returns within about
  // `grace_s` + a few seconds whatever the engines do. Idempotent.
  void shutdown(double grace_s);

 private:
  friend class ModelLease;
  using Model = ModelLease::Model;
  Status check_fits(const LocalModel& model) const;
  Status load(Model& model, const std::string& id);
  void give_back(Model& model, bool for_batch);
  // Under the lock: the model whose slot is claimed for `id` now, claiming one if none is (nullptr: every
  // loaded model holds a batch).
  Model* claim_slot(const std::string& id, double until_s);

  EnginePoolOptions options_;
  OnJobIdle on_job_idle_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a load finished, or a lease was given back
  std::map<std::string, std::shared_ptr<Model>> models_;  // loaded or loading
  std::map<std::string, int64_t> loads_, evictions_;
  uint64_t use_clock_ = 0;
  bool shut_down_ = false;
};

// The id `serve` gives the HTTP engine's models in views and metrics.
inline constexpr const char* kEndpointModelId = "endpoint";

}  // namespace batchwise
