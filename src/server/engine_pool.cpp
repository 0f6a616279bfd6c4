#include "server/engine_pool.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "core/units.h"
#include "hardware/host_info.h"
#include "hardware/nvml.h"
#include "model/model_source.h"
#include "plan/memory_model.h"

namespace batchwise {

// One loaded model: its engine, the runner over it and the thread that steps the runner.
struct EnginePool::Loaded {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<JobRunner> runner;
  std::thread thread;
  std::atomic<bool> stop{false};
  uint64_t last_used = 0;
  bool remote = false;

  void run(const OnJobIdle& on_job_idle) {
    while (!stop) {
      runner->step(0.05);
      for (auto& job : runner->remove_idle()) on_job_idle(std::move(job));
    }
  }
  bool busy() const { return runner->in_flight() > 0 || !runner->jobs().empty(); }
  void halt(double grace_s) {
    runner->stop(/*finish_in_flight=*/true);
    const double deadline = now_s() + grace_s;
    while (runner->in_flight() > 0 && now_s() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    runner->stop(false);
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

EnginePool::EnginePool(EnginePoolOptions options, OnJobIdle on_job_idle)
    : options_(std::move(options)), on_job_idle_(std::move(on_job_idle)) {
  options_.max_models = std::max<size_t>(1, options_.max_models);
}

EnginePool::~EnginePool() { shutdown(0); }

std::vector<std::string> EnginePool::local_ids() const {
  std::vector<std::string> ids;
  for (const auto& m : options_.models) ids.push_back(m.id);
  return ids;
}

Expected<std::string> EnginePool::resolve(const std::string& model) const {
  if (model.empty()) {
    if (!options_.models.empty()) return options_.models.front().id;
    return std::string(kEndpointModelId);
  }
  for (const auto& m : options_.models) {
    if (m.id == model) return m.id;
  }
  if (has_endpoints()) return std::string(kEndpointModelId);
  // One model and nowhere else to send a request: it answers for every name, as llama-server does.
  if (options_.models.size() == 1) return options_.models.front().id;
  std::string served;
  for (const auto& m : options_.models) served += (served.empty() ? "" : ", ") + m.id;
  return make_error(ErrorCode::kNotFound, "model `" + model + "` is not served here (served: " + served +
                                              "); start serve with -m FILE.gguf for it, or --endpoint URL");
}

Status EnginePool::check_fits(const LocalModel& model) const {
  auto info = load_model_info(model.path.string());
  if (!info) return std::unexpected(info.error());
  if (!info->file_weights) return {};
  ContextConfig ctx;
  ctx.n_ctx_tokens = options_.llama.n_ctx;
  ctx.n_seq = options_.llama.n_parallel;
  ctx.n_batch_tokens = options_.llama.n_batch;
  ctx.n_ubatch_tokens = options_.llama.n_ubatch;
  ctx.flash_attention = options_.llama.flash_attention;
  const NvmlProbe gpus = probe_nvml();
  const bool on_gpu = !gpus.gpus.empty();
  const MemoryEstimate need = estimate_memory(info->spec, *info->file_weights, ctx, on_gpu);
  const int64_t free_bytes = on_gpu ? gpus.gpus.front().memory_free_bytes : probe_host().ram_available_bytes;
  if (free_bytes > 0 && need.device.total_bytes() > free_bytes) {
    return make_error(ErrorCode::kOutOfMemory,
                      "model `" + model.id + "` needs about " + format_gib(need.device.total_bytes()) + " but " +
                          format_gib(free_bytes) + " is free" + (on_gpu ? " on the GPU" : " in RAM") +
                          ": lower --max-models, --ctx-size or --parallel, or use a smaller quantization");
  }
  return {};
}

void EnginePool::unload(const std::string& id, std::unique_lock<std::mutex>& lock) {
  std::unique_ptr<Loaded> gone = std::move(loaded_.at(id));
  loaded_.erase(id);
  evictions_[id]++;
  lock.unlock();  // the runner's thread may be calling on_job_idle, which takes other locks
  gone->halt(0);
  gone.reset();
  lock.lock();
  log_info("serve: unloaded model " + id + " (least recently used)");
}

Status EnginePool::make_room(std::unique_lock<std::mutex>& lock, const std::string& for_id) {
  while (loaded_.size() >= options_.max_models) {
    std::string victim;
    uint64_t oldest = UINT64_MAX;
    for (const auto& [id, m] : loaded_) {
      if (!m->busy() && m->last_used < oldest) {
        oldest = m->last_used;
        victim = id;
      }
    }
    if (victim.empty()) {
      return make_error(ErrorCode::kUnavailable,
                        "model `" + for_id + "` cannot be loaded now: the " + std::to_string(loaded_.size()) +
                            " loaded models (--max-models) all have work; try again when one is done");
    }
    unload(victim, lock);
  }
  return {};
}

Expected<JobRunner*> EnginePool::acquire(const std::string& id) {
  std::unique_lock lock(mu_);
  if (shut_down_) return make_error(ErrorCode::kUnavailable, "the server is stopping");
  if (auto it = loaded_.find(id); it != loaded_.end()) {
    it->second->last_used = ++use_clock_;
    return it->second->runner.get();
  }
  const bool remote = id == kEndpointModelId;
  const LocalModel* local = nullptr;
  for (const auto& m : options_.models) {
    if (m.id == id) local = &m;
  }
  if (!remote && !local) return make_error(ErrorCode::kNotFound, "model `" + id + "` is not served here");
  BW_TRY(make_room(lock, id));
  auto loaded = std::make_unique<Loaded>();
  loaded->remote = remote;
  if (remote) {
    BW_ASSIGN_OR_RETURN(auto http, make_http_engine(options_.http));
    loaded->engine = std::move(http);
  } else {
    BW_TRY(check_fits(*local));
    LlamaEngineOptions o = options_.llama;
    o.model_path = local->path;
    log_info("serve: loading model " + id + " from " + local->path.string());
    BW_ASSIGN_OR_RETURN(loaded->engine, make_llama_engine(o));
  }
  loaded->runner = std::make_unique<JobRunner>(*loaded->engine, RunnerOptions{options_.interactive_reserve});
  BW_TRY(loaded->runner->start());
  loaded->last_used = ++use_clock_;
  Loaded* raw = loaded.get();
  raw->thread = std::thread([raw, this] { raw->run(on_job_idle_); });
  loads_[id]++;
  JobRunner* runner = raw->runner.get();
  loaded_[id] = std::move(loaded);
  return runner;
}

std::vector<ModelView> EnginePool::views() const {
  std::lock_guard lock(mu_);
  std::vector<ModelView> out;
  auto view_of = [&](const std::string& id, bool remote) {
    ModelView v;
    v.id = id;
    v.remote = remote;
    if (auto it = loaded_.find(id); it != loaded_.end()) {
      v.loaded = true;
      v.in_flight = it->second->runner->in_flight();
      v.jobs = it->second->runner->jobs().size();
      v.stats = it->second->engine->stats();
    }
    if (auto it = loads_.find(id); it != loads_.end()) v.loads = it->second;
    if (auto it = evictions_.find(id); it != evictions_.end()) v.evictions = it->second;
    out.push_back(v);
  };
  for (const auto& m : options_.models) view_of(m.id, false);
  if (has_endpoints()) view_of(kEndpointModelId, true);
  return out;
}

void EnginePool::shutdown(double grace_s) {
  std::map<std::string, std::unique_ptr<Loaded>> all;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    all.swap(loaded_);
  }
  for (auto& [id, m] : all) m->halt(grace_s);
}

}  // namespace batchwise
