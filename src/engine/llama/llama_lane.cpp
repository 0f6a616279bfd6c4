#include "engine/llama/llama_lane.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread.h"
#include "core/utf8.h"
#include "engine/llama/generation_params.h"
#include "engine/llama/llama_handles.h"
#include "engine/llama/llama_response.h"
#include "engine/llama/llama_samplers.h"
#include "engine/llama/parallel_rows.h"
#include "engine/llama/token_logprobs.h"

namespace batchwise {
namespace {

struct Sequence {
  PreparedRequest p;
  llama_seq_id id = -1;
  int prefix_slot = -1;             // index into prefixes_ it shares cells with, or -1
  size_t n_past = 0;                // tokens of this sequence in the KV cache
  size_t cached = 0;                // prompt tokens shared instead of evaluated
  int64_t reserved_cells = 0;
  int32_t logits_index = -1;        // row of the logits of the current batch to sample from
  llama_token next_token = -1;      // sampled, to be fed in the next step
  std::vector<llama_token> generated;
  std::vector<TokenLogprobs> logprobs;  // one per generated token, when asked for
  std::string text;
  size_t streamed = 0;              // bytes of `text` handed to request.on_text
  std::string finish_reason;
  std::optional<Error> error;       // set when the engine failed this sequence mid-way
  std::shared_ptr<llama_sampler> sampler;  // the preparer's; null for greedy
  bool on_device = false;           // greedy argmax taken inside the graph
  const float* row = nullptr;       // this step's logits, when chosen on the host
  llama_token chosen = -1;          // this step's token
  std::vector<llama_token_data> scratch;  // candidates for the sampler chain, reused
  double first_eval_s = 0;
  double first_token_s = 0;
  bool answered = false;            // handed to on_done (which may have thrown): never again

  bool prefilling() const { return n_past < p.prompt.size(); }
};

// Cells kept for a shared prompt prefix, under their own sequence id.
struct PrefixSlot {
  llama_seq_id id = -1;
  std::vector<llama_token> tokens;  // empty: slot unused
  int users = 0;                    // active sequences that copied from it
  int64_t last_used = 0;
};

size_t common_prefix(const std::vector<llama_token>& a, const std::vector<llama_token>& b, size_t limit) {
  const size_t n = std::min({a.size(), b.size(), limit});
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

class Lane final : public LlamaLane {
 public:
  Lane(const LlamaEngineOptions& options, llama_model* model, ContextPtr ctx, DeviceSamplers device_samplers,
       LaneShared& shared)
      : options_(options), shared_(shared), device_samplers_(std::move(device_samplers)), ctx_(std::move(ctx)),
        vocab_(llama_model_get_vocab(model)), n_vocab_(llama_vocab_n_tokens(vocab_)),
        batch_(llama_batch_init(options.n_batch, 0, 1)) {
    for (int i = 0; i < options.n_parallel; ++i) free_ids_.push_back(options.n_parallel - 1 - i);
    for (int i = 0; i < options.prefix_slots; ++i) prefixes_.push_back(PrefixSlot{options.n_parallel + i, {}, 0, 0});
  }

  ~Lane() override {
    join();
    llama_batch_free(batch_);
  }

  void start(int helper_threads) override {
    row_pool_ = std::make_unique<ParallelRows>(helper_threads);
    thread_ = run_thread("llama lane", [this] { loop(); }, [this](const std::string& what) { fail_all(what); });
  }

  void join() override {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    while (shared_.queue.wait_for_work(!active_.empty())) {
      const double t0 = now_s();
      admit();
      add_host_time(now_s() - t0);
      if (!active_.empty()) step();
    }
    for (auto& s : active_) emit(*s, Error{ErrorCode::kCancelled, "stopped before the request finished"});
    active_.clear();
  }

  // An exception escaped the loop: the engine stops taking work and reports why (first, so the runner
  // keeps what comes back pending rather than retrying it), and every sequence not yet answered fails
  // with it. One whose answer was being delivered when the exception came is not answered twice.
  void fail_all(const std::string& what) {
    const Error error{ErrorCode::kEngine, "internal error in the engine: " + what};
    shared_.queue.fail(error);
    for (auto& s : active_) {
      if (!s->answered) emit(*s, error);
    }
    active_.clear();
  }

  // Moves prepared requests into free sequences while KV cells and sequence ids allow.
  void admit() {
    while (!free_ids_.empty()) {
      std::optional<PreparedRequest> p = shared_.queue.take();
      if (!p) return;
      if (p->error) {
        send_error(shared_, *p, *p->error);
        continue;
      }
      if (!try_admit(*p)) {
        shared_.queue.put_back(std::move(*p));
        return;
      }
    }
  }

  // Takes `p` into a sequence, or leaves it alone and returns false.
  bool try_admit(PreparedRequest& p) {
    const auto& prompt = p.prompt;
    const size_t limit = prompt.size() - 1;  // the last prompt token is always evaluated, for its logits
    size_t best = 0;
    int best_slot = -1;
    const Sequence* best_seq = nullptr;
    for (size_t i = 0; i < prefixes_.size(); ++i) {
      const size_t l = common_prefix(prefixes_[i].tokens, prompt, limit);
      if (l > best) best = l, best_slot = static_cast<int>(i);
    }
    const size_t min_shared = static_cast<size_t>(options_.min_shared_prefix);
    // A cached prefix that covers the start is taken as it is: scanning the running sequences for a
    // few more shared tokens ("Candidate 1" vs "Candidate 12") would cost more than it saves, and
    // waiting for them would serialise admission.
    if (best < min_shared) {
      for (const auto& s : active_) {
        const size_t full = common_prefix(s->p.prompt, prompt, limit);
        if (full < min_shared || full <= best) continue;
        // A sequence still evaluating the prefix we share: wait for it rather than evaluate it twice.
        if (s->n_past < full) return false;
        best = full, best_slot = -1, best_seq = s.get();
      }
    }
    if (best < min_shared) best = 0, best_slot = -1, best_seq = nullptr;

    if (best_seq != nullptr) best_slot = promote_prefix(*best_seq, best);
    // Sharing straight from a sequence (no slot free) cannot count on those cells staying: reserve them.
    const int64_t discount = best_slot >= 0 ? static_cast<int64_t>(best) : 0;
    const int64_t need = static_cast<int64_t>(prompt.size()) - discount + p.params.max_tokens;
    if (used_cells_ + need > llama_n_ctx(ctx_.get())) {
      // The matched slot is pinned while idle slots are evicted: freeing the very prefix being
      // shared would leave this sequence with positions 0..best and no cells behind them.
      if (best_slot >= 0) prefixes_[best_slot].users++;
      evict_idle_prefixes();
      if (best_slot >= 0) prefixes_[best_slot].users--;
      if (used_cells_ + need > llama_n_ctx(ctx_.get())) return false;
    }

    auto s = std::make_unique<Sequence>();
    s->p = std::move(p);
    s->id = free_ids_.back();
    free_ids_.pop_back();
    s->reserved_cells = need;
    used_cells_ += need;
    llama_memory_t mem = llama_get_memory(ctx_.get());
    if (best > 0) {
      const llama_seq_id src = best_slot >= 0 ? prefixes_[best_slot].id : best_seq->id;
      llama_memory_seq_cp(mem, src, s->id, 0, static_cast<llama_pos>(best));
      s->n_past = s->cached = best;
      if (best_slot >= 0) {
        s->prefix_slot = best_slot;
        prefixes_[best_slot].users++;
        prefixes_[best_slot].last_used = ++clock_;
      }
    }
    const GenerationParams& params = s->p.params;
    s->sampler = std::move(s->p.sampler);  // the preparer's (null: greedy)
    s->on_device = device_samplers_.enabled() && params.greedy() && params.grammar.empty() && params.top_logprobs < 0;
    device_samplers_.set(ctx_.get(), s->id, s->on_device);
    active_.push_back(std::move(s));
    return true;
  }

  // Keeps the first `length` cells of `source` under a prefix slot; returns the slot or -1.
  int promote_prefix(const Sequence& source, size_t length) {
    int slot = -1;
    for (size_t i = 0; i < prefixes_.size(); ++i) {
      if (prefixes_[i].tokens.empty()) { slot = static_cast<int>(i); break; }
      if (prefixes_[i].users == 0 && (slot < 0 || prefixes_[i].last_used < prefixes_[slot].last_used)) {
        slot = static_cast<int>(i);
      }
    }
    if (slot < 0) return -1;
    release_prefix(prefixes_[slot]);
    if (used_cells_ + static_cast<int64_t>(length) > llama_n_ctx(ctx_.get())) return -1;
    auto& p = prefixes_[slot];
    llama_memory_seq_cp(llama_get_memory(ctx_.get()), source.id, p.id, 0, static_cast<llama_pos>(length));
    p.tokens.assign(source.p.prompt.begin(), source.p.prompt.begin() + static_cast<std::ptrdiff_t>(length));
    used_cells_ += static_cast<int64_t>(length);
    p.last_used = ++clock_;
    return slot;
  }

  void release_prefix(PrefixSlot& p) {
    if (p.tokens.empty()) return;
    llama_memory_seq_rm(llama_get_memory(ctx_.get()), p.id, -1, -1);
    used_cells_ -= static_cast<int64_t>(p.tokens.size());
    p.tokens.clear();
  }

  void evict_idle_prefixes() {
    for (auto& p : prefixes_) {
      if (p.users == 0) release_prefix(p);
    }
  }

  void add_token(llama_token token, size_t pos, llama_seq_id seq, bool logits) {
    const int i = batch_.n_tokens++;
    batch_.token[i] = token;
    batch_.pos[i] = static_cast<llama_pos>(pos);
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = seq;
    batch_.logits[i] = logits;
  }

  // One llama_decode over every generating sequence plus as much prefill as the batch holds.
  void step() {
    const double t_begin = now_s();
    batch_.n_tokens = 0;
    int64_t prompt_tokens = 0;
    for (auto& s : active_) {
      s->logits_index = -1;
      if (s->prefilling() || s->next_token < 0) continue;
      add_token(s->next_token, s->n_past, s->id, true);
      s->logits_index = batch_.n_tokens - 1;
    }
    prefill_.clear();
    for (auto& s : active_) {
      const int budget = options_.n_batch - batch_.n_tokens;
      if (budget <= 0) break;
      if (!s->prefilling()) continue;
      const size_t n = std::min(s->p.prompt.size() - s->n_past, static_cast<size_t>(budget));
      for (size_t k = 0; k < n; ++k) {
        const size_t pos = s->n_past + k;
        add_token(s->p.prompt[pos], pos, s->id, pos + 1 == s->p.prompt.size());
      }
      if (s->first_eval_s == 0) s->first_eval_s = t_begin;
      if (s->n_past + n == s->p.prompt.size()) s->logits_index = batch_.n_tokens - 1;
      prefill_.emplace_back(s.get(), n);
      prompt_tokens += static_cast<int64_t>(n);
    }
    const double t_decode = now_s();
    const int32_t rc = llama_decode(ctx_.get(), batch_);
    const double t_wait = now_s();
    if (rc != 0) {
      handle_decode_failure(rc);
      return;
    }
    // llama_decode returns once the step is queued; the outputs are there after this.
    llama_synchronize(ctx_.get());
    const double t_done = now_s();
    for (auto& [s, n] : prefill_) s->n_past += n;
    choose_tokens();
    for (Sequence* s : outputs_) {
      if (s->next_token >= 0) s->n_past += 1;  // the fed token is now in the cache
      if (s->first_token_s == 0) s->first_token_s = t_done;
      accept(*s, s->chosen);
    }
    finish_done();
    ++steps_;
    std::lock_guard lock(shared_.stats_mu);
#ifdef BATCHWISE_LLAMA_PATCHED
    add_decode_timings(llama_get_decode_timings(ctx_.get()));
#endif
    shared_.stats.prompt_tokens_evaluated += prompt_tokens;
    shared_.stats.steps += 1;
    shared_.stats.step_tokens += batch_.n_tokens;
    shared_.stats.decode_call_s += t_wait - t_decode;
    shared_.stats.wait_s += t_done - t_wait;
    shared_.stats.host_s += (t_decode - t_begin) + (now_s() - t_done);
  }

#ifdef BATCHWISE_LLAMA_PATCHED
  // llama.cpp's own split of its time in llama_decode, summed since the context was made: added as a change.
  void add_decode_timings(const llama_decode_timings& t) {
    shared_.stats.graph_s += static_cast<double>(t.t_graph_us - timings_.t_graph_us) * 1e-6;
    shared_.stats.inputs_s += static_cast<double>(t.t_inputs_us - timings_.t_inputs_us) * 1e-6;
    shared_.stats.launch_s += static_cast<double>(t.t_compute_us - timings_.t_compute_us) * 1e-6;
    shared_.stats.graphs_reused += t.n_reused - timings_.n_reused;
    shared_.stats.sparse_steps += t.n_sparse - timings_.n_sparse;
    shared_.stats.cascade_steps += t.n_cascade - timings_.n_cascade;
    timings_ = t;
  }
  llama_decode_timings timings_{};  // llama.cpp's at the last step
#endif

  void add_host_time(double seconds) {
    std::lock_guard lock(shared_.stats_mu);
    shared_.stats.host_s += seconds;
  }

  // Every sequence with an output this step gets its token: from the device, or from its row of
  // logits on the host, the rows spread over the helper threads (128k floats each for Llama 3).
  void choose_tokens() {
    outputs_.clear();
    for (auto& s : active_) {
      if (s->logits_index >= 0) outputs_.push_back(s.get());
    }
    // llama.cpp's output accessors are not thread-safe: read every device token and row here.
    for (Sequence* s : outputs_) {
      s->chosen = -1;
      s->row = nullptr;
      if (s->on_device) {
        const llama_token token = llama_get_sampled_token_ith(ctx_.get(), s->logits_index);
        if (token >= 0 && token < n_vocab_) {
          s->chosen = token;
          continue;
        }
        log_warn("llama.cpp returned no device-sampled token (sequence " + std::to_string(s->id) + ", batch row " +
                 std::to_string(s->logits_index) + " of " + std::to_string(batch_.n_tokens) + ", " +
                 std::to_string(outputs_.size()) + " outputs, step " + std::to_string(steps_) +
                 "): greedy tokens are chosen on the host from now on");
        device_samplers_.disable(ctx_.get());
        for (auto& other : active_) other->on_device = false;
      }
      s->row = llama_get_logits_ith(ctx_.get(), s->logits_index);
    }
    row_pool_->for_each(outputs_.size(), [this](size_t i) {
      Sequence& s = *outputs_[i];
      if (s.row == nullptr) return;
      s.chosen = sample_row(s.sampler.get(), s.row, n_vocab_, s.scratch);
      if (s.p.params.top_logprobs >= 0) s.logprobs.push_back(token_logprobs(s.row, n_vocab_, s.chosen, s.p.params.top_logprobs));
    });
  }

  void accept(Sequence& s, llama_token token) {
    if (token < 0) {
      s.error = Error{ErrorCode::kEngine, "llama.cpp produced no logits for this sequence"};
      s.finish_reason = "error";
      return;
    }
    if (!s.p.params.ignore_eos && llama_vocab_is_eog(vocab_, token)) {
      s.finish_reason = "stop";
      return;
    }
    s.generated.push_back(token);
    const size_t before = s.text.size();
    s.text += token_piece(vocab_, token);
    for (const auto& stop : s.p.params.stop) {
      const size_t from = before >= stop.size() ? before - stop.size() + 1 : 0;
      const size_t at = s.text.find(stop, from);
      if (at != std::string::npos) {
        s.text.resize(at);
        s.finish_reason = "stop";
        return;
      }
    }
    if (static_cast<int64_t>(s.generated.size()) >= s.p.params.max_tokens) {
      s.finish_reason = "length";
      return;
    }
    s.next_token = token;
    stream_text(s, false);
  }

  // Hands the text generated since the last call to the request's on_text: all of it at the end, else what no
  // stop string can still cut (the last longest-stop-minus-one bytes wait) and no character is split.
  static void stream_text(Sequence& s, bool final) {
    if (!s.p.request.on_text) return;
    size_t end = s.text.size();
    if (!final) {
      size_t hold = 0;
      for (const auto& stop : s.p.params.stop) hold = std::max(hold, stop.empty() ? 0 : stop.size() - 1);
      end = complete_utf8_prefix(s.text, end > hold ? end - hold : 0);
    }
    if (end <= s.streamed) return;
    s.p.request.on_text(std::string_view(s.text).substr(s.streamed, end - s.streamed));
    s.streamed = end;
  }

  void finish_done() {
    for (auto it = active_.begin(); it != active_.end();) {
      if ((*it)->finish_reason.empty()) {
        ++it;
        continue;
      }
      emit(**it, (*it)->error);
      it = active_.erase(it);
    }
  }

  // llama_decode failed: 1 means no KV cells were free (our reservation was too optimistic).
  void handle_decode_failure(int32_t rc) {
    const bool no_cells = rc == 1;
    log_warn("llama_decode returned " + std::to_string(rc) + (no_cells ? " (KV cache full)" : ""));
    evict_idle_prefixes();
    // The newest sequence goes back as out-of-memory (retryable); the rest go on.
    if (!active_.empty()) {
      emit(*active_.back(), Error{no_cells ? ErrorCode::kOutOfMemory : ErrorCode::kEngine,
                                  no_cells ? "the KV cache is full: retry with a smaller batch or larger --ctx-size"
                                           : "llama_decode failed with code " + std::to_string(rc)});
      active_.pop_back();
    }
  }

  // Keeps a finished prompt's cells in an idle prefix slot when no slot covers its start yet, so a
  // later request sharing a prefix with it (a partial match is fine) need not evaluate it again.
  void donate_prompt(const Sequence& s) {
    const size_t min_shared = static_cast<size_t>(options_.min_shared_prefix);
    if (s.p.prompt.size() <= min_shared || s.n_past < s.p.prompt.size()) return;
    for (const auto& p : prefixes_) {
      if (common_prefix(p.tokens, s.p.prompt, s.p.prompt.size()) >= min_shared) return;
    }
    promote_prefix(s, s.p.prompt.size());
  }

  // Sends the result, frees the sequence's cells and id. `error` set: the request failed.
  void emit(Sequence& s, std::optional<Error> error) {
    if (!error) {
      donate_prompt(s);
      stream_text(s, true);
    }
    llama_memory_seq_rm(llama_get_memory(ctx_.get()), s.id, -1, -1);
    free_ids_.push_back(s.id);
    used_cells_ -= s.reserved_cells;
    if (s.prefix_slot >= 0) prefixes_[s.prefix_slot].users--;
    EngineResult r;
    r.key = s.p.request.key;
    const double done = now_s();
    r.timings.queue_ms = ((s.first_eval_s > 0 ? s.first_eval_s : done) - s.p.submitted_s) * 1e3;
    r.timings.ttft_ms = ((s.first_token_s > 0 ? s.first_token_s : done) - s.p.submitted_s) * 1e3;
    r.timings.total_ms = (done - s.p.submitted_s) * 1e3;
    r.prompt_tokens = static_cast<int64_t>(s.p.prompt.size());
    r.cached_tokens = static_cast<int64_t>(s.cached);
    r.completion_tokens = static_cast<int64_t>(s.generated.size());
    {
      std::lock_guard lock(shared_.stats_mu);
      if (error) {
        shared_.stats.requests_failed++;
      } else {
        shared_.stats.requests_done++;
        shared_.stats.prompt_tokens_submitted += r.prompt_tokens;
        shared_.stats.generated_tokens += r.completion_tokens;
      }
    }
    if (error) {
      r.status_code = error->code == ErrorCode::kInvalidArgument ? 400 : 500;
      r.error = std::move(error);
    } else {
      r.body = completion_response_body(
          CompletionOutcome{&s.p.request, shared_.model_name, s.p.prompt.size(), s.cached, &s.generated, &s.logprobs,
                            s.p.params.top_logprobs >= 0, s.text, s.finish_reason},
          vocab_);
    }
    s.answered = true;
    shared_.on_done(Engine::one(std::move(r)));
  }

  const LlamaEngineOptions options_;
  LaneShared& shared_;
  // Declared before ctx_: llama.cpp holds on to the samplers until the context is freed.
  DeviceSamplers device_samplers_;
  ContextPtr ctx_;
  const llama_vocab* vocab_;
  const int32_t n_vocab_;
  llama_batch batch_;
  std::thread thread_;

  // The lane's thread only.
  std::vector<std::unique_ptr<Sequence>> active_;  // in admission order
  std::vector<std::pair<Sequence*, size_t>> prefill_;  // this step's prompt chunks: sequence, tokens
  std::vector<llama_seq_id> free_ids_;
  std::vector<PrefixSlot> prefixes_;
  std::vector<Sequence*> outputs_;     // sequences with an output row this step
  std::unique_ptr<ParallelRows> row_pool_;
  int64_t used_cells_ = 0;
  int64_t clock_ = 0;
  int64_t steps_ = 0;  // this lane's decode steps
};

}  // namespace

void send_error(LaneShared& shared, const PreparedRequest& p, const Error& error) {
  EngineResult r;
  r.key = p.request.key;
  r.status_code = error.code == ErrorCode::kInvalidArgument || error.code == ErrorCode::kContextExceeded ? 400 : 500;
  r.error = error;
  {
    std::lock_guard lock(shared.stats_mu);
    shared.stats.requests_failed++;
  }
  shared.on_done(Engine::one(std::move(r)));
}

Expected<std::unique_ptr<LlamaLane>> make_llama_lane(llama_model* model, const LlamaEngineOptions& options,
                                                     LaneShared& shared) {
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(options.n_ctx);
  cp.n_batch = static_cast<uint32_t>(options.n_batch);
  cp.n_ubatch = static_cast<uint32_t>(options.n_ubatch);
  cp.n_seq_max = static_cast<uint32_t>(options.n_parallel + options.prefix_slots);
  cp.n_threads = cp.n_threads_batch = options.n_threads;
  cp.kv_unified = true;  // shared prefix cells need one cache for all sequences
  cp.flash_attn_type = options.flash_attention ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.no_perf = true;
  const auto type_k = llama_kv_type_named(options.cache_type_k), type_v = llama_kv_type_named(options.cache_type_v);
  if (!type_k || !type_v) {
    return make_error(ErrorCode::kInvalidArgument, "unknown KV cache type " + (type_k ? options.cache_type_v : options.cache_type_k));
  }
  cp.type_k = *type_k;
  cp.type_v = *type_v;
  for (const auto& [type, name, which, dim] : {std::tuple{*type_k, options.cache_type_k, "key", llama_head_size(model, "key_length")},
                                               std::tuple{*type_v, options.cache_type_v, "value", llama_head_size(model, "value_length")}}) {
    if (dim > 0 && dim % ggml_blck_size(type) != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "KV cache type " + name + " packs " + std::to_string(ggml_blck_size(type)) + " numbers a block, and this model's " +
                            which + " heads have " + std::to_string(dim) + ": choose f16, bf16 or f32 for its " + which + "s");
    }
  }
  // Device sampling: a greedy chain per request sequence, part of the graph from the start.
  DeviceSamplers device_samplers = options.device_sampling ? DeviceSamplers(options.n_parallel) : DeviceSamplers();
  auto sampler_configs = device_samplers.configs();
  cp.samplers = sampler_configs.empty() ? nullptr : sampler_configs.data();
  cp.n_samplers = sampler_configs.size();
  ContextPtr ctx(llama_init_from_model(model, cp));
#ifdef BATCHWISE_LLAMA_PATCHED
  if (ctx) {
    llama_set_sparse_kv_attention(ctx.get(), options.sparse_attention.value_or(false));
    llama_set_cascade_attention(ctx.get(), options.cascade_attention.value_or(false));
  }
#endif
  if (!ctx) {
    return make_error(ErrorCode::kOutOfMemory, "cannot create a llama.cpp context with " + std::to_string(options.n_ctx) +
                                                   " KV cells of " + options.cache_type_k + "/" + options.cache_type_v +
                                                   ": lower --ctx-size or --parallel, or choose other KV types "
                                                   "(-v shows llama.cpp's reason)");
  }
  return std::unique_ptr<LlamaLane>(new Lane(options, model, std::move(ctx), std::move(device_samplers), shared));
}

}  // namespace batchwise
