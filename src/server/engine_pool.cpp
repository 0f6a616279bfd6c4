#include "server/engine_pool.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread.h"
#include "core/units.h"
#include "hardware/host_info.h"
#include "hardware/nvml.h"
#include "model/amx_packing.h"
#include "model/model_source.h"
#include "plan/memory_model.h"

namespace batchwise {
namespace {

// How long a model being unloaded may take to hand back its cancelled work before its thread is ended.
constexpr double kCancelWaitS = 2.0;
// A model without a lease for this long has no client keeping it busy: it may give up its turn.
constexpr double kQuietS = 0.1;

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", s);
  return text;
}

}  // namespace


// One model of the pool: its engine, the runner over it and the thread that steps the runner. Shared by
// the pool's map and the leases on it, so that a model taken out of the map (unloaded, shut down) lives
// until its last lease is given back.
struct ModelLease::Model {
  enum class State { kLoading, kReady, kFailed };
  std::string id;
  bool remote = false;
  State state = State::kLoading;   // under the pool's lock
  std::optional<Error> load_error; // kFailed: why, for those who waited for the load
  size_t leases = 0;               // under the pool's lock
  size_t batch_leases = 0;         // under the pool's lock: of `leases`, those batches hold
  double claimed_until_s = 0;      // under the pool's lock: till then no new lease, the slot is `claimed_for`'s
  std::string claimed_for;
  double ready_at_s = 0;           // under the pool's lock
  double idle_since_s = 0;         // under the pool's lock: when its last lease was given back
  uint64_t last_used = 0;          // under the pool's lock
  std::unique_ptr<Engine> engine;
  std::unique_ptr<JobRunner> runner;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> broken{false};  // its runner's thread has ended for good: unload it, load it afresh
  std::mutex halt_mu;  // halt's phases run from one thread at a time
  bool halted = false;

  ~Model() {
    halt_now();
    engine.reset();  // joins the engine's threads, which may still hand answers to the runner
    runner.reset();
  }

  void run(const EnginePool::OnJobIdle& on_job_idle) {
    while (!stop) {
      // An engine that cannot go on (every endpoint stalled, a lane's thread failed) takes no more work:
      // its jobs fail with the reason rather than wait for ever, and the model is loaded afresh when next asked for.
      if (std::optional<Error> failure = engine->failure()) return fail(failure->message, on_job_idle);
      runner->step(0.05);
      for (auto& job : runner->remove_idle()) on_job_idle(std::move(job));
    }
  }
  // The runner's thread ends for good (an escape, or the engine's failure): each job fails with the reason
  // (serve marks its batch failed, what it finished kept), each interactive request gets an error.
  void fail(const std::string& what, const EnginePool::OnJobIdle& on_job_idle) {
    log_error("serve: model " + id + " stopped: " + what);
    broken = true;
    runner->stop(/*finish_in_flight=*/false);
    runner->abandon_interactive();
    for (auto& job : runner->jobs()) {
      job->fail(Error{ErrorCode::kInternal, "the model's engine stopped: " + what});
      on_job_idle(job);
    }
  }
  bool has_work() const { return runner && (runner->in_flight() > 0 || !runner->jobs().empty()); }
  // Pinned by interactive requests alone, which end in seconds (or being loaded for one): its slot may be
  // claimed for another model. (The runner is read only once the model is ready: its loader sets it unlocked.)
  bool claimable() const {
    if (batch_leases > 0) return false;
    return state == State::kLoading || (state == State::kReady && runner->jobs().empty());
  }
  bool claim_staked() const { return claimed_until_s > now_s(); }
  // A staked claim takes effect (no new lease) once the model has had a turn of its own: else two models'
  // clients would swap them after every request, and a batch that asks once a second for the model just
  // loaded for it could lose it each time.
  bool turn_over() const { return now_s() >= ready_at_s + kClaimHoldS; }
  bool closed_by_claim() const { return claim_staked() && claimable() && turn_over(); }
  // Nobody holds it: it may be unloaded for another model once its turn is over, or when its clients have
  // gone quiet (a gap longer than back-to-back requests leave).
  bool unloadable() const {
    return state == State::kReady && leases == 0 &&
           (broken || (!has_work() && (turn_over() || now_s() >= idle_since_s + kQuietS)));
  }

  // Stopping in phases, so that the pool's shutdown stops every model at once and waits one grace
  // for all of them, not one grace each.
  void begin_stop() {
    if (runner) runner->stop(/*finish_in_flight=*/true);
  }
  void wait_in_flight(double deadline_s) const {
    while (runner && runner->in_flight() > 0 && now_s() < deadline_s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void cancel_in_flight() {
    if (runner) runner->stop(/*finish_in_flight=*/false);
  }
  // Ends the runner's thread; whoever still waits for an interactive answer gets a 503.
  void end() {
    std::lock_guard lock(halt_mu);
    if (halted) return;
    halted = true;
    stop = true;
    if (thread.joinable()) thread.join();
    if (runner) runner->abandon_interactive();
  }
  // All the phases with no grace: cancelled work comes back in moments, and an engine that does not
  // answer its cancellations is not waited for past kCancelWaitS.
  void halt_now() {
    begin_stop();
    cancel_in_flight();
    wait_in_flight(now_s() + kCancelWaitS);
    end();
  }
};

ModelLease::ModelLease(EnginePool* pool, std::shared_ptr<Model> model, bool for_batch)
    : pool_(pool), model_(std::move(model)), for_batch_(for_batch) {}

ModelLease::ModelLease(ModelLease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), model_(std::move(other.model_)), for_batch_(other.for_batch_) {}

ModelLease& ModelLease::operator=(ModelLease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    model_ = std::move(other.model_);
    for_batch_ = other.for_batch_;
  }
  return *this;
}

ModelLease::~ModelLease() { release(); }

void ModelLease::release() {
  if (model_) pool_->give_back(*model_, for_batch_);
  model_.reset();
  pool_ = nullptr;
}

JobRunner& ModelLease::runner() const { return *model_->runner; }
const std::string& ModelLease::id() const { return model_->id; }

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
  const HostInfo host = probe_host();
  ctx.cpu_amx = !on_gpu && host.llama_cpu_amx && amx_holds_model(info->spec);
  const MemoryEstimate need = estimate_memory(info->spec, *info->file_weights, ctx, on_gpu);
  const int64_t free_bytes = on_gpu ? gpus.gpus.front().memory_free_bytes : host.ram_available_bytes;
  if (free_bytes > 0 && need.device.total_bytes() > free_bytes) {
    return make_error(ErrorCode::kOutOfMemory,
                      "model `" + model.id + "` needs about " + format_gib(need.device.total_bytes()) + " but " +
                          format_gib(free_bytes) + " is free" + (on_gpu ? " on the GPU" : " in RAM") +
                          ": lower --max-models, --ctx-size or --parallel, or use a smaller quantization");
  }
  return {};
}

Status EnginePool::load(Model& m, const std::string& id) {
  if (m.remote) {
    BW_ASSIGN_OR_RETURN(auto http, make_http_engine(options_.http));
    m.engine = std::move(http);
  } else {
    const LocalModel* local = nullptr;
    for (const auto& lm : options_.models) {
      if (lm.id == id) local = &lm;
    }
    BW_TRY(check_fits(*local));
    LlamaEngineOptions o = options_.llama;
    o.model_path = local->path;
    log_info("serve: loading model " + id + " from " + local->path.string());
    const double t0 = now_s();
    BW_ASSIGN_OR_RETURN(m.engine, make_llama_engine(o));
    log_debug("serve: loaded model " + id + " in " + seconds_text(now_s() - t0));
  }
  m.runner = std::make_unique<JobRunner>(*m.engine, RunnerOptions{options_.interactive_reserve});
  BW_TRY(m.runner->start());
  Model* raw = &m;
  m.thread = run_thread(
      "model " + id, [raw, this] { raw->run(on_job_idle_); },
      [raw, this](const std::string& what) { raw->fail("internal error on the model's runner: " + what, on_job_idle_); });
  return {};
}

void EnginePool::give_back(Model& m, bool for_batch) {
  std::lock_guard lock(mu_);
  m.leases--;
  if (for_batch) m.batch_leases--;
  if (m.leases == 0) m.idle_since_s = now_s();
  if (m.claim_staked()) cv_.notify_all();  // the claimant waits for the last lease
}

ModelLease::Model* EnginePool::claim_slot(const std::string& id, double until_s) {
  Model* claimed = nullptr;
  for (const auto& [mid, m] : models_) {
    if (!m->claim_staked()) continue;
    if (m->claimable()) claimed = m.get();  // one claim at a time: the others wait their turn behind it
    else m->claimed_until_s = 0;            // a batch came first: the claim is void
  }
  if (!claimed) {
    for (const auto& [mid, m] : models_) {
      if (m->claimable() && (!claimed || m->last_used < claimed->last_used)) claimed = m.get();
    }
    if (!claimed) return nullptr;
    claimed->claimed_for = id;
    log_debug("serve: model " + claimed->id + " takes no new requests until " + id + " is loaded in its place");
  }
  if (claimed->claimed_for == id) claimed->claimed_until_s = std::max(claimed->claimed_until_s, until_s);
  return claimed;
}

Expected<ModelLease> EnginePool::acquire(const std::string& id, AcquireOptions options) {
  const bool remote = id == kEndpointModelId;
  const bool local = std::any_of(options_.models.begin(), options_.models.end(),
                                 [&](const LocalModel& m) { return m.id == id; });
  if (!remote && !local) return make_error(ErrorCode::kNotFound, "model `" + id + "` is not served here");
  const double deadline_s = now_s() + options.wait_s;
  std::unique_lock lock(mu_);
  // Waits a little for a claimed slot to come free (leases given back are notified; work that ends on a
  // runner is not, hence the short step); false once the caller's wait is over.
  auto wait_for_slot = [&] {
    const double left_s = deadline_s - now_s();
    if (left_s <= 0) return false;
    cv_.wait_for(lock, std::chrono::duration<double>(std::min(left_s, 0.05)));
    return true;
  };
  while (true) {
    if (shut_down_) return make_error(ErrorCode::kUnavailable, "the server is stopping");
    if (auto it = models_.find(id); it != models_.end()) {
      std::shared_ptr<Model> m = it->second;
      if (m->state == Model::State::kLoading) {
        cv_.wait(lock, [&] { return m->state != Model::State::kLoading || shut_down_; });
        if (m->state == Model::State::kFailed) return std::unexpected(*m->load_error);
        continue;  // ready, but it may have been unloaded again since: look it up afresh
      }
      if (m->broken) {  // its engine stopped: loaded afresh once those who hold it let go
        if (m->leases == 0) {
          models_.erase(it);
          lock.unlock();
          m.reset();  // unloads it
          lock.lock();
          continue;
        }
        if (wait_for_slot()) continue;
        return make_error(ErrorCode::kUnavailable, "model `" + id + "` stopped and is being loaded again; try again in a moment");
      }
      if (m->closed_by_claim()) {  // its slot goes to another model: this request waits for its turn
        if (wait_for_slot()) continue;
        return make_error(ErrorCode::kUnavailable, "model `" + id + "` is being unloaded to load `" + m->claimed_for +
                                                       "` (--max-models " + std::to_string(options_.max_models) +
                                                       "); try again in a moment");
      }
      m->leases++;
      if (options.for_batch) m->batch_leases++;
      m->last_used = ++use_clock_;
      return ModelLease(this, std::move(m), options.for_batch);
    }
    std::shared_ptr<Model> victim;
    if (models_.size() >= options_.max_models) {
      for (const auto& [vid, m] : models_) {
        if (m->unloadable() && (!victim || m->last_used < victim->last_used)) victim = m;
      }
      if (!victim) {
        const Model* claimed = claim_slot(id, std::max(deadline_s, now_s() + kClaimHoldS));
        if (claimed && wait_for_slot()) continue;
        return make_error(ErrorCode::kUnavailable,
                          "model `" + id + "` cannot be loaded now: the " + std::to_string(models_.size()) +
                              " loaded models (--max-models) all have work" +
                              (claimed ? "; it is next once `" + claimed->id + "` finishes what it has"
                                       : " (batches)") +
                              "; try again in a moment");
      }
      models_.erase(victim->id);  // nobody can lease it from here on
      evictions_[victim->id]++;
    }
    // The slot is this model's from here (so no other caller takes the one just freed), loading.
    auto m = std::make_shared<Model>();
    m->id = id;
    m->remote = remote;
    m->leases = 1;  // the caller's
    m->batch_leases = options.for_batch ? 1 : 0;
    models_[id] = m;
    lock.unlock();  // unloading joins threads that may call on_job_idle, which takes other locks
    if (victim) {
      const std::string gone = victim->id;
      const double t0 = now_s();
      victim.reset();  // the last reference: halts and unloads it, before the new model takes its memory
      log_info("serve: unloaded model " + gone + " for " + id + " (least recently used) in " +
               seconds_text(now_s() - t0));
    }
    // A stop that began while the victim unloaded needs no new model: its load would hold Ctrl-C up for as long
    // as a load takes (seconds for an 8B; under TSan it pushed the 3-model stop past serve's own deadline).
    lock.lock();
    const bool stopping = shut_down_;
    lock.unlock();
    Status loaded = stopping ? Status(make_error(ErrorCode::kUnavailable, "the server is stopping")) : load(*m, id);
    lock.lock();
    if (loaded && shut_down_) loaded = make_error(ErrorCode::kUnavailable, "the server is stopping");
    if (!loaded) {
      m->state = Model::State::kFailed;
      m->load_error = loaded.error();
      if (auto it = models_.find(id); it != models_.end() && it->second == m) models_.erase(it);
      cv_.notify_all();
      lock.unlock();
      m.reset();  // unloads what was made
      return std::unexpected(loaded.error());
    }
    m->state = Model::State::kReady;
    m->ready_at_s = m->idle_since_s = now_s();
    m->last_used = ++use_clock_;
    loads_[id]++;
    cv_.notify_all();
    return ModelLease(this, std::move(m), options.for_batch);
  }
}

std::vector<ModelView> EnginePool::views() const {
  std::lock_guard lock(mu_);
  std::vector<ModelView> out;
  auto view_of = [&](const std::string& id, bool remote) {
    ModelView v;
    v.id = id;
    v.remote = remote;
    if (auto it = models_.find(id); it != models_.end()) {
      const Model& m = *it->second;
      v.loading = m.state == Model::State::kLoading;
      v.loaded = m.state == Model::State::kReady;
      v.leases = m.leases;
      if (v.loaded) {
        v.in_flight = m.runner->in_flight();
        v.jobs = m.runner->jobs().size();
        v.stats = m.engine->stats();
      }
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
  std::vector<std::shared_ptr<Model>> all;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [id, m] : models_) {
      if (m->state == Model::State::kReady) all.push_back(m);
    }
    models_.clear();  // a model still loading is halted by its loader, which sees shut_down_
    cv_.notify_all();
  }
  // Every model at once: one grace for all of them.
  for (auto& m : all) m->begin_stop();
  const double deadline = now_s() + grace_s;
  for (auto& m : all) m->wait_in_flight(deadline);
  for (auto& m : all) m->cancel_in_flight();
  const double cancel_deadline = now_s() + kCancelWaitS;
  for (auto& m : all) m->wait_in_flight(cancel_deadline);
  for (auto& m : all) m->end();
  // What a lease still holds is unloaded when that lease is given back.
}

}  // namespace batchwise
