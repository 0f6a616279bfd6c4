// BatchService's interactive part: /v1/chat/completions, /v1/responses, /v1/completions and /v1/embeddings
// answered ahead of batch work on the model's runner, and /v1/models.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "server/batch_service.h"
#include "core/json_read.h"
#include "server/ids.h"
#include "server/response_events.h"
#include "server/stream_chunks.h"

namespace batchwise {
namespace {

// How long an interactive request waits for a model slot that another model's requests hold, before 503.
constexpr double kModelTurnWaitS = 30;

// An interactive request's id in the engine, which its answer's ids are made of ("req_…": chatcmpl-req_…).
std::string new_request_id() { return "req_" + new_batch_id().substr(6, 16); }

}  // namespace

Expected<std::string> BatchService::interactive_model(const nlohmann::json& body) const {
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  const auto m = body.find("model");
  return pool_->resolve(m != body.end() && m->is_string() ? m->get<std::string>() : "");
}

// An interactive request on its model's runner: the slot it holds among --max-queued-requests and the lease
// that pins the model until the answer is here (it is not unloaded under the request).
struct BatchService::Interactive {
  struct Slot {
    std::atomic<size_t>& waiting;
    ~Slot() { waiting--; }
  };
  std::unique_ptr<Slot> slot;
  std::string model;
  ModelLease lease;
};

Expected<BatchService::Interactive> BatchService::submit_interactive(ApiKind kind, const nlohmann::json& body,
                                                                     std::string request_id,
                                                                     std::function<void(std::string_view)> on_text,
                                                                     std::function<void(EngineResult)> on_done) {
  Interactive in;
  BW_ASSIGN_OR_RETURN(in.model, interactive_model(body));
  // Bounded: each waiting request holds an HTTP worker and a slot in its runner's queue.
  const size_t waiting = ++interactive_waiting_;
  in.slot = std::make_unique<Interactive::Slot>(interactive_waiting_);
  if (waiting > options_.max_queued_interactive) {
    return make_error(ErrorCode::kRateLimited, "more than " + std::to_string(options_.max_queued_interactive) +
                                                   " interactive requests are waiting (--max-queued-requests): "
                                                   "try again in a moment");
  }
  // Waits for its turn while another model holds the slot (its requests end in seconds), up to its own bound.
  BW_ASSIGN_OR_RETURN(in.lease, pool_->acquire(in.model, {.wait_s = kModelTurnWaitS}));
  EngineRequest request;
  request.kind = kind;
  request.body = body;
  request.request_id = std::move(request_id);
  request.on_text = std::move(on_text);
  if (!in.lease.runner().submit_interactive(std::move(request), std::move(on_done))) {
    return make_error(ErrorCode::kUnavailable, "the server is stopping");
  }
  return in;
}

Expected<EngineResult> BatchService::finish_interactive(const Interactive& in, EngineResult r) {
  metrics_.observe(in.model, answer_figures(r), true);
  if (r.error) return std::unexpected(*r.error);
  return r;
}

Expected<std::string> BatchService::complete(ApiKind kind, const nlohmann::json& body) {
  auto promise = std::make_shared<std::promise<EngineResult>>();
  auto answer = promise->get_future();
  BW_ASSIGN_OR_RETURN(Interactive in, submit_interactive(kind, body, new_request_id(), {}, [promise](EngineResult r) {
    promise->set_value(std::move(r));
  }));
  if (answer.wait_for(std::chrono::duration<double>(options_.interactive_timeout_s)) != std::future_status::ready) {
    return make_error(ErrorCode::kTimeout, "no answer within " + std::to_string(options_.interactive_timeout_s) + " s");
  }
  BW_ASSIGN_OR_RETURN(EngineResult r, finish_interactive(in, answer.get()));
  return !r.raw_body.empty() ? r.raw_body : r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void BatchService::complete_streaming(ApiKind kind, const nlohmann::json& body,
                                      const std::function<bool(const nlohmann::json&)>& write) {
  // The engine's pieces and its answer wait here for this thread, which writes them to the client as they come.
  struct Pieces {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> text;
    std::optional<EngineResult> answer;
  };
  auto pieces = std::make_shared<Pieces>();
  auto on_text = [pieces](std::string_view piece) {
    std::lock_guard lock(pieces->mu);
    pieces->text.emplace_back(piece);
    pieces->cv.notify_one();
  };
  auto on_done = [pieces](EngineResult r) {
    std::lock_guard lock(pieces->mu);
    pieces->answer = std::move(r);
    pieces->cv.notify_one();
  };
  bool open = true;  // the client still reads
  auto send = [&](const nlohmann::json& event) { open = open && write(event); };
  // The protocol's events: chat / text completion chunks, or the Responses API's events.
  const std::string request_id = new_request_id();
  const nlohmann::json* model_field = json_field(body, "model");
  const std::string model = model_field && model_field->is_string() ? model_field->get<std::string>() : "";
  const bool chat = kind == ApiKind::kChatCompletions;
  StreamChunks chunks(chat, model, request_id);
  ResponseEvents events(model, request_id);
  const bool responses = kind == ApiKind::kResponses;
  std::string streamed;
  auto send_piece = [&](const std::string& piece) {
    streamed += piece;
    send(responses ? events.text(piece) : chunks.text(piece));
  };
  auto send_error = [&](const Error& e) {
    if (responses) return send(events.error(e));
    send({{"error", {{"message", e.message}, {"type", "server_error"}, {"code", error_code_name(e.code)}}}});
  };
  Expected<Interactive> in = submit_interactive(kind, body, request_id, on_text, on_done);
  if (!in) return send_error(in.error());
  if (responses) {
    for (const auto& e : events.start()) send(e);
  } else {
    send(chunks.start());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.interactive_timeout_s);
  std::optional<EngineResult> answer;
  while (!answer) {
    std::deque<std::string> taken;
    {
      std::unique_lock lock(pieces->mu);
      if (!pieces->cv.wait_until(lock, deadline, [&] { return pieces->answer || !pieces->text.empty(); })) {
        return send_error(Error{ErrorCode::kTimeout, "no answer within " + std::to_string(options_.interactive_timeout_s) + " s"});
      }
      taken.swap(pieces->text);
      if (pieces->answer) answer = std::move(pieces->answer);
    }
    for (const std::string& piece : taken) send_piece(piece);
  }
  Expected<EngineResult> r = finish_interactive(*in, std::move(*answer));
  if (!r) return send_error(r.error());
  const nlohmann::json reply = !r->raw_body.empty() ? nlohmann::json::parse(r->raw_body, nullptr, false) : r->body;
  if (responses) {
    for (const auto& e : events.finish(reply)) send(e);
    return;
  }
  // An engine that does not stream (an --endpoint model) leaves the whole text to the end.
  const std::string text = StreamChunks::answer_text(chat, reply);
  if (text.size() > streamed.size() && text.starts_with(streamed)) send_piece(text.substr(streamed.size()));
  send(chunks.finish(StreamChunks::finish_reason(chat, reply)));
  const auto options = body.find("stream_options");
  if (options != body.end() && options->is_object() && options->value("include_usage", false) && reply.contains("usage")) {
    send(chunks.usage(reply["usage"]));
  }
}

nlohmann::json BatchService::models_list() const {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& id : pool_->local_ids()) {
    data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "batchwise"}});
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace batchwise
