#include "engine/llama/llama_engine.h"

#include "engine/llama/chat_template.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/thread.h"
#include "engine/llama/cascade_support.h"
#include "engine/llama/embedding_lane.h"
#include "engine/llama/llama_handles.h"
#include "engine/llama/llama_lane.h"
#include "engine/llama/llama_request_preparer.h"
#include "llama.h"

namespace batchwise {
namespace {

// Threads that prepare requests, and that choose tokens beside each lane's thread.
int helper_threads(const LlamaEngineOptions& options) {
  if (options.prepare_threads > 0) return options.prepare_threads;
  return std::min(8, std::max(2, usable_cpus()) / 2);
}

// Whether a GPU computes the model's layers (else the CPU does, with each lane's llama.cpp threads).
bool layers_on_gpu(const LlamaEngineOptions& options) {
  const bool on_cpu_copies = !options.gpus.empty() && options.gpus.front() < 0;
  return llama_supports_gpu_offload() && options.n_gpu_layers > 0 && !on_cpu_copies;
}

class LlamaEngine final : public Engine {
 public:
  // `models`: one copy per device (the first also tokenizes: the copies' vocabularies are the same).
  // `pooling`: an embedding model's pooling type (embedding_lane.h), 0 for a generative model.
  LlamaEngine(const LlamaEngineOptions& options, std::vector<ModelPtr> models, int64_t request_token_limit,
              std::string limit_hint, int64_t lane_ctx, std::string chat_template, int pooling)
      : options_(options), models_(std::move(models)),
        preparer_(models_.front().get(), options.model_path.filename().string(), request_token_limit,
                  std::move(limit_hint), std::move(chat_template), pooling != 0),
        shared_(max_in_flight()), lane_ctx_(lane_ctx), pooling_(pooling) {
    shared_.model_name = options.model_path.stem().string();
  }

  ~LlamaEngine() override {
    stop(false);
    if (closer_.joinable()) closer_.join();  // it joins the lanes and preparers
    lanes_.clear();                          // before the models they use
  }

  // Creates each model copy's lanes; a copy's sequences and KV cells are split between its lanes.
  Status add_lanes() {
    for (const ModelPtr& model : models_) {
      for (int i = 0; i < options_.lanes; ++i) {
        LlamaEngineOptions lane = options_;
        lane.n_parallel = options_.n_parallel / options_.lanes + (i < options_.n_parallel % options_.lanes ? 1 : 0);
        lane.n_ctx = static_cast<int>(lane_ctx_);
        BW_ASSIGN_OR_RETURN(std::unique_ptr<LlamaLane> l, pooling_ != 0 ? make_embedding_lane(model.get(), lane, shared_)
                                                                         : make_llama_lane(model.get(), lane, shared_));
        lanes_.push_back(std::move(l));
      }
    }
    return {};
  }

  Status start(Callback on_done) override {
    shared_.on_done = std::move(on_done);
    const int n = helper_threads(options_);
    // A thread's escape stops the engine and says why (Engine::failure()): the runner ends, the rest pending.
    for (int i = 0; i < n; ++i) {
      preparers_.push_back(run_thread("llama prepare", [this] { prepare_loop(); }, [this](const std::string& what) {
        shared_.queue.fail(Error{ErrorCode::kEngine, "internal error in a request preparer: " + what});
      }));
    }
    for (auto& lane : lanes_) lane->start(n);
    // Waits for the lanes and preparers to end, then sends back what never reached a lane.
    closer_ = run_thread("llama closer", [this] { close_when_lanes_end(); }, [this](const std::string& what) {
      shared_.queue.fail(Error{ErrorCode::kEngine, "internal error in the engine's closer: " + what});
    });
    return {};
  }

  bool submit(EngineRequest request) override { return shared_.queue.submit(std::move(request), now_s()); }

  void stop(bool finish_in_flight) override { shared_.queue.stop(finish_in_flight); }

  size_t max_in_flight() const override { return static_cast<size_t>(options_.n_parallel) * 2 * models_.size(); }

  EngineStats stats() const override {
    std::lock_guard lock(shared_.stats_mu);
    return shared_.stats;
  }

  std::optional<Error> failure() const override { return shared_.queue.failure(); }

  std::string description() const override {
    std::string lanes = options_.lanes > 1 ? " in " + std::to_string(options_.lanes) + " lanes" : "";
    std::string copies;
    if (!options_.gpus.empty()) {
      copies = " on each of " + std::to_string(models_.size()) + " devices (";
      for (size_t i = 0; i < options_.gpus.size(); ++i) {
        copies += (i ? ", " : "") + (options_.gpus[i] < 0 ? std::string("CPU") : "GPU " + std::to_string(options_.gpus[i]));
      }
      copies += ")";
    }
    if (pooling_ != 0) {
      static const char* const kPooling[] = {"none", "mean", "cls", "last", "rank"};
      return "llama.cpp (embedded): " + options_.model_path.filename().string() + ", an embedding model (" +
             (pooling_ > 0 && pooling_ < 5 ? kPooling[pooling_] : "pooled") + " pooling), batches of up to " +
             std::to_string(options_.n_parallel / options_.lanes) + " inputs and " + std::to_string(options_.n_ubatch) +
             " tokens, an input up to " + std::to_string(options_.n_batch) + lanes + copies + cpu_threads();
    }
    return "llama.cpp (embedded): " + options_.model_path.filename().string() + ", " +
           std::to_string(options_.n_parallel) + " sequences" + lanes + ", " +
           std::to_string(lane_ctx_ * options_.lanes) + " KV cells" + copies + ", " + attention_path() + cpu_threads();
  }

  // llama.cpp's threads where a CPU computes layers (on a GPU they only launch its work).
  std::string cpu_threads() const {
    if (layers_on_gpu(options_)) return "";
    const int n = options_.n_threads;
    return ", " + std::to_string(n) + " CPU thread" + (n == 1 ? "" : "s") + (options_.lanes > 1 ? " a lane" : "");
  }

  // Which attention the lanes run, as `run` reports it.
  std::string attention_path() const {
    if (!options_.flash_attention) return "dense attention (flash attention is off)";
#ifndef BATCHWISE_LLAMA_PATCHED
    return "dense attention (this llama.cpp lacks batchwise's patch)";
#endif
    if (options_.cascade_attention.value_or(false)) {
      return "cascade attention (a lane's shared prefix once for all its sequences, merged with each one's own cells; "
             "--attention dense for llama.cpp's own)";
    }
    return options_.sparse_attention.value_or(false)
               ? "sparse attention (each sequence's own cells, gathered on the GPU; --attention dense for llama.cpp's own)"
               : "dense attention (every cell, masked)";
  }

 private:
  // Preparer threads: parse, render and tokenize requests in parallel.
  void prepare_loop() {
    while (auto item = shared_.queue.next_submitted()) {
      PreparedRequest p = preparer_.prepare(std::move(item->first));
      p.submitted_s = item->second;
      shared_.queue.push_prepared(std::move(p));
    }
  }

  void close_when_lanes_end() {
    for (auto& lane : lanes_) lane->join();
    for (auto& t : preparers_) t.join();
    for (auto& p : shared_.queue.drain()) send_error(shared_, p, Error{ErrorCode::kCancelled, "stopped before the request started"});
  }

  const LlamaEngineOptions options_;
  std::vector<ModelPtr> models_;
  const RequestPreparer preparer_;
  mutable LaneShared shared_;
  const int64_t lane_ctx_;
  const int pooling_;
  std::vector<std::unique_ptr<LlamaLane>> lanes_;
  std::vector<std::thread> preparers_;
  std::thread closer_;
};

// --lanes 0: on a GPU, below 512 sequences a lane per 128 (2 to 4); from 512 on, 4 lanes or more, a lane per 252
// (a context's most) and at most 16. One lane's CPU work overlaps another's GPU work, and a fuller lane pays each
// step's read of the weights over more tokens: on an H100 (8B F16, seed, bench/results/README.md 2026-12-07)
// 1,008 sequences ran 255.5 req/s in 4 lanes and 219.2 in 8, 512 in 4 lanes 222.7. plan/recommend.cpp models
// the same rule. One lane on a CPU, where lanes only compete for the same cores.
int auto_lanes(const LlamaEngineOptions& options) {
  if (!layers_on_gpu(options) || options.n_parallel < 2) return 1;
  if (options.n_parallel < 512) return std::clamp((options.n_parallel + 127) / 128, 2, 4);
  return std::clamp((options.n_parallel + 251) / 252, 4, 16);
}

// Where each copy goes; checks every GPU named exists.
Expected<std::vector<ModelPlacement>> placements(const std::vector<int>& gpus) {
  if (gpus.empty()) return std::vector<ModelPlacement>{ModelPlacement{}};
  const int available = llama_gpu_count();
  std::vector<ModelPlacement> out;
  for (int g : gpus) {
    if (g < 0) {
      out.push_back({ModelPlacement::Kind::kCpu, 0});
      continue;
    }
    if (g >= available) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--gpus " + std::to_string(g) + ": " +
                            (available == 0 ? std::string("this batchwise sees no GPU (a build without CUDA sees none: "
                                                          "build with -DBATCHWISE_CUDA=ON, and check nvidia-smi)")
                                            : "there are " + std::to_string(available) + " GPUs, numbered 0 to " +
                                                  std::to_string(available - 1)));
    }
    out.push_back({ModelPlacement::Kind::kGpu, g});
  }
  return out;
}

}  // namespace

int visible_gpu_count() { return llama_gpu_count(); }

Expected<std::vector<int>> parse_gpu_list(const std::string& text) {
  std::vector<int> gpus;
  if (text == "all") {
    const int n = llama_gpu_count();
    if (n == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--gpus all: this batchwise sees no GPU (a build without CUDA sees none: build with "
                        "-DBATCHWISE_CUDA=ON, and check nvidia-smi)");
    }
    for (int i = 0; i < n; ++i) gpus.push_back(i);
    return gpus;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const long g = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || g < 0 || g > 1023) {
      return make_error(ErrorCode::kInvalidArgument, "--gpus " + text + ": give `all` or GPU numbers such as 0,1");
    }
    if (std::find(gpus.begin(), gpus.end(), static_cast<int>(g)) != gpus.end()) {
      return make_error(ErrorCode::kInvalidArgument, "--gpus " + text + ": GPU " + item + " is named twice");
    }
    gpus.push_back(static_cast<int>(g));
    start = comma + 1;
  }
  return gpus;
}

Expected<std::unique_ptr<Engine>> make_llama_engine(const LlamaEngineOptions& in) {
  LlamaEngineOptions options = in;
  options.n_parallel = std::max(1, options.n_parallel);
  init_llama_backend();  // auto_lanes asks it about GPUs; flags are checked before a model loads for seconds
  options.lanes = options.lanes > 0 ? std::min(options.lanes, 16) : auto_lanes(options);
  const int per_lane_max = 256 - std::max(0, options.prefix_slots);
  if (options.n_parallel > per_lane_max * options.lanes) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::to_string(options.n_parallel) + " sequences in " + std::to_string(options.lanes) +
                          " lane(s): llama.cpp allows " + std::to_string(per_lane_max) +
                          " per context with these prefix slots; lower --parallel or raise --lanes");
  }
  options.lanes = std::min(options.lanes, options.n_parallel);
  const int per_lane = (options.n_parallel + options.lanes - 1) / options.lanes;
  options.prefix_slots = std::clamp(options.prefix_slots, 0, 256 - per_lane);
  options.n_batch = std::max(options.n_batch, per_lane);
  options.n_ubatch = std::min(options.n_ubatch, options.n_batch);
  // Each lane's llama.cpp threads: the CPUs the process may use, split between lanes (they matter on a CPU build).
  if (options.n_threads <= 0) options.n_threads = std::max(1, usable_cpus() / options.lanes);
  const int64_t lane_ctx = options.n_ctx / options.lanes;
  if (!options.sparse_attention) options.sparse_attention = options.flash_attention && layers_on_gpu(options);
  BW_ASSIGN_OR_RETURN(std::vector<ModelPlacement> where, placements(options.gpus));
  std::string chat_template;  // checked before the model loads for seconds
  if (!options.chat_template.empty()) {
    BW_ASSIGN_OR_RETURN(chat_template, resolve_chat_template(options.chat_template));
  }
  std::vector<ModelPtr> models;
  for (const ModelPlacement& p : where) {
    BW_ASSIGN_OR_RETURN(ModelPtr m, load_llama_model(options.model_path, options.n_gpu_layers, p));
    models.push_back(std::move(m));
  }
  llama_model* model = models.front().get();
  // An embedding model (its GGUF names a pooling type) answers /v1/embeddings in embedding lanes: each input whole
  // in one batch of about the model's trained context (512 to 8,192 tokens), up to 256 inputs a batch.
  const int pooling = model_pooling_type(model);
  if (pooling != 0) {
    if (pooling == LLAMA_POOLING_TYPE_RANK) {
      return make_error(ErrorCode::kInvalidArgument, options.model_path.filename().string() +
                                                         " is a reranker (rank pooling), which batchwise does not serve");
    }
    // Every lane the same number of sequences (a context's most is 256), and a batch a multiple of it: llama.cpp
    // sizes its pooling graph for the batch's tokens spread evenly over the sequences, and asserts otherwise.
    const int per_lane = std::clamp(options.n_parallel / options.lanes, 1, 256);
    options.n_parallel = per_lane * options.lanes;
    const int64_t trained = std::clamp<int64_t>(llama_model_n_ctx_train(model), 512, 8192);
    options.n_batch = static_cast<int>(trained / per_lane * per_lane);
    options.n_ubatch = std::min(options.n_ubatch, options.n_batch);  // the tokens a decode packs (embedding_lane.h)
    const int64_t input_limit = options.n_batch;
    auto engine = std::make_unique<LlamaEngine>(options, std::move(models), input_limit,
                                                "the model's trained context, at most 8192", options.n_ctx,
                                                std::move(chat_template), pooling);
    BW_TRY(engine->add_lanes());
    return std::unique_ptr<Engine>(std::move(engine));
  }
  // Cascade attention where the GPUs holding the layers run its node (H200, 8B seed at run's defaults: 270.1 and
  // 266.9 req/s against sparse's 264.9 and 263.1, its logits as close to dense's as sparse's); off on a CPU, where
  // it ran a few percent slower than dense (docs/run.md).
  if (!options.cascade_attention) {
    const auto type_k = llama_kv_type_named(options.cache_type_k), type_v = llama_kv_type_named(options.cache_type_v);
    options.cascade_attention = options.sparse_attention.value_or(false) && layers_on_gpu(options) && type_k && type_v &&
                                devices_run_cascade_attention(model, *type_k, *type_v, GGML_BACKEND_DEVICE_TYPE_GPU);
  }
  // A request must fit the model's trained context, the user's limit and one lane's KV cells.
  const int64_t trained = llama_model_n_ctx_train(model);
  int64_t limit = trained;
  std::string hint = "the model's trained context";
  if (options.max_request_tokens > 0 && options.max_request_tokens < limit) {
    limit = options.max_request_tokens, hint = "--max-request-tokens";
  }
  if (lane_ctx < limit) {
    limit = lane_ctx;
    hint = options.lanes > 1 ? "the KV cells of one of " + std::to_string(options.lanes) + " lanes: raise --ctx-size or lower --lanes"
                             : "the KV cells: raise --ctx-size";
  }
  auto engine = std::make_unique<LlamaEngine>(options, std::move(models), limit, hint, lane_ctx, std::move(chat_template), 0);
  BW_TRY(engine->add_lanes());
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace batchwise
