#include "engine/llama/embedding_lane.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/thread.h"
#include "engine/llama/embedding_body.h"
#include "engine/llama/llama_handles.h"

namespace batchwise {
namespace {

// A request whose inputs are being embedded.
struct Job {
  PreparedRequest p;
  std::vector<std::vector<float>> vectors;  // one per input, filled as they are done
  size_t next_input = 0;                    // the first input not yet in a batch
  size_t done = 0;                          // inputs embedded
  double first_eval_s = 0;
  std::optional<Error> error;               // a batch holding one of its inputs failed
  bool answered = false;                    // handed to on_done (which may have thrown): never again
};

class EmbeddingLaneImpl final : public LlamaLane {
 public:
  EmbeddingLaneImpl(const LlamaEngineOptions& options, ContextPtr ctx, LaneShared& shared)
      : shared_(shared), ctx_(std::move(ctx)), n_batch_(options.n_batch), step_tokens_(options.n_ubatch),
        n_seq_(options.n_parallel),
        n_embd_(llama_model_n_embd(llama_get_model(ctx_.get()))), batch_(llama_batch_init(options.n_batch, 0, 1)) {}

  ~EmbeddingLaneImpl() override {
    join();
    llama_batch_free(batch_);
  }

  void start(int) override {
    thread_ = run_thread("llama embeddings", [this] { loop(); }, [this](const std::string& what) { fail_all(what); });
  }

  void join() override {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    while (shared_.queue.wait_for_work(!jobs_.empty())) {
      take_jobs();
      if (!jobs_.empty()) step();
    }
    for (auto& j : jobs_) answer(j, Error{ErrorCode::kCancelled, "stopped before the request finished"});
    jobs_.clear();
  }

  void fail_all(const std::string& what) {
    const Error error{ErrorCode::kEngine, "internal error in the engine: " + what};
    shared_.queue.fail(error);
    for (auto& j : jobs_) {
      if (!j.answered) answer(j, error);
    }
    jobs_.clear();
  }

  // Takes waiting requests while the jobs held have fewer inputs than a batch takes.
  void take_jobs() {
    size_t waiting = 0;
    for (const auto& j : jobs_) waiting += j.p.inputs.size() - j.next_input;
    while (waiting < static_cast<size_t>(n_seq_)) {
      std::optional<PreparedRequest> p = shared_.queue.take();
      if (!p) return;
      if (p->error) {
        send_error(shared_, *p, *p->error);
        continue;
      }
      waiting += p->inputs.size();
      Job j{std::move(*p), {}, 0, 0, 0, std::nullopt, false};
      j.vectors.resize(j.p.inputs.size());
      jobs_.push_back(std::move(j));
    }
  }

  // One decode over as many whole inputs as fit, in the order they came.
  void step() {
    struct Slot {
      Job* job;
      size_t input;
    };
    std::vector<Slot> slots;
    batch_.n_tokens = 0;
    const double t0 = now_s();
    for (auto& j : jobs_) {
      while (j.next_input < j.p.inputs.size() && static_cast<int>(slots.size()) < n_seq_) {
        const auto& tokens = j.p.inputs[j.next_input];
        // Up to step_tokens_ a decode (a longer input alone): each token of a batch is scored against every cell
        // of it, masked, so a batch several times larger than that costs more than it saves.
        const int limit = batch_.n_tokens == 0 ? n_batch_ : step_tokens_;
        if (batch_.n_tokens + static_cast<int>(tokens.size()) > limit) break;
        const auto seq = static_cast<llama_seq_id>(slots.size());
        for (size_t i = 0; i < tokens.size(); ++i) {
          const int k = batch_.n_tokens++;
          batch_.token[k] = tokens[i];
          batch_.pos[k] = static_cast<llama_pos>(i);
          batch_.n_seq_id[k] = 1;
          batch_.seq_id[k][0] = seq;
          batch_.logits[k] = true;  // pooling reads every token's output
        }
        slots.push_back({&j, j.next_input++});
        if (j.first_eval_s == 0) j.first_eval_s = t0;
      }
      if (static_cast<int>(slots.size()) >= n_seq_) break;
    }
    if (slots.empty()) return;
    const int rc = llama_decode(ctx_.get(), batch_);
    const double t1 = now_s();
    std::optional<Error> error;
    if (rc != 0) error = Error{ErrorCode::kEngine, "llama_decode failed (" + std::to_string(rc) + ") embedding a batch"};
    for (size_t s = 0; s < slots.size() && !error; ++s) {
      const float* v = llama_get_embeddings_seq(ctx_.get(), static_cast<llama_seq_id>(s));
      if (!v) {
        error = Error{ErrorCode::kEngine, "llama.cpp gave no pooled embedding for a sequence"};
        break;
      }
      std::vector<float>& out = slots[s].job->vectors[slots[s].input];
      out.assign(v, v + n_embd_);
      normalize_l2(out);
      slots[s].job->done++;
    }
    if (llama_memory_t mem = llama_get_memory(ctx_.get())) llama_memory_clear(mem, true);
    {
      std::lock_guard lock(shared_.stats_mu);
      shared_.stats.steps += 1;
      shared_.stats.step_tokens += batch_.n_tokens;
      shared_.stats.prompt_tokens_evaluated += batch_.n_tokens;
      shared_.stats.decode_call_s += t1 - t0;
    }
    if (error) {
      for (const Slot& s : slots) s.job->error = error;
    }
    // Answers every job that is complete, or failed in this batch.
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->error) {
        answer(*it, it->error);
      } else if (it->done == it->p.inputs.size()) {
        answer(*it, std::nullopt);
      } else {
        ++it;
        continue;
      }
      it = jobs_.erase(it);
    }
  }

  void answer(Job& j, std::optional<Error> error) {
    j.answered = true;
    if (error) return send_error(shared_, j.p, *error);
    EngineResult r;
    r.key = j.p.request.key;
    const double done = now_s();
    r.timings.queue_ms = ((j.first_eval_s > 0 ? j.first_eval_s : done) - j.p.submitted_s) * 1e3;
    r.timings.ttft_ms = r.timings.total_ms = (done - j.p.submitted_s) * 1e3;
    for (const auto& tokens : j.p.inputs) r.prompt_tokens += static_cast<int64_t>(tokens.size());
    const nlohmann::json& body = j.p.request.body;
    const nlohmann::json* model = body.is_object() && body.contains("model") ? &body["model"] : nullptr;
    r.body = embedding_response_body(j.vectors, j.p.base64,
                                     model && model->is_string() ? model->get<std::string>() : shared_.model_name,
                                     r.prompt_tokens);
    {
      std::lock_guard lock(shared_.stats_mu);
      shared_.stats.requests_done++;
      shared_.stats.prompt_tokens_submitted += r.prompt_tokens;
    }
    shared_.on_done(Engine::one(std::move(r)));
  }

  LaneShared& shared_;
  ContextPtr ctx_;
  const int n_batch_;      // the longest input
  const int step_tokens_;  // the tokens a decode packs, unless one input is longer
  const int n_seq_;
  const int n_embd_;
  llama_batch batch_;
  std::thread thread_;
  std::deque<Job> jobs_;  // the lane's thread only
};

}  // namespace

int model_pooling_type(const llama_model* model) {
  char arch[64] = {0};
  if (llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch) < 0) return 0;
  char value[32] = {0};
  const std::string key = std::string(arch) + ".pooling_type";
  if (llama_model_meta_val_str(model, key.c_str(), value, sizeof value) < 0) return 0;
  return std::atoi(value);
}

Expected<std::unique_ptr<LlamaLane>> make_embedding_lane(llama_model* model, const LlamaEngineOptions& options,
                                                         LaneShared& shared) {
  llama_context_params cp = llama_context_default_params();
  // Every input is whole in one ubatch (an encoder attends over all of it at once); the cells are cleared after
  // each decode, so a batch's tokens are all the cells it needs.
  cp.n_ctx = cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(options.n_batch);
  cp.n_seq_max = static_cast<uint32_t>(options.n_parallel);
  cp.n_threads = cp.n_threads_batch = options.n_threads;
  cp.kv_unified = true;
  cp.embeddings = true;
  cp.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED;  // the model's own
  cp.flash_attn_type = options.flash_attention ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.no_perf = true;
  ContextPtr ctx(llama_init_from_model(model, cp));
  if (!ctx) {
    return make_error(ErrorCode::kOutOfMemory, "cannot create a llama.cpp embedding context of " +
                                                   std::to_string(options.n_batch) +
                                                   " tokens: lower --batch-size (-v shows llama.cpp's reason)");
  }
  return std::unique_ptr<LlamaLane>(new EmbeddingLaneImpl(options, std::move(ctx), shared));
}

}  // namespace batchwise
