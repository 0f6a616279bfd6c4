// BatchService's interactive part: /v1/chat/completions and /v1/completions answered ahead of batch work on
// the model's runner, and /v1/models.
#include <atomic>
#include <future>

#include "server/batch_service.h"
#include "server/ids.h"

namespace batchwise {

Expected<std::string> BatchService::complete(ApiKind kind, const nlohmann::json& body) {
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  const auto m = body.find("model");
  BW_ASSIGN_OR_RETURN(std::string model, pool_->resolve(m != body.end() && m->is_string() ? m->get<std::string>() : ""));
  // Bounded: each waiting request holds an HTTP worker and a slot in its runner's queue.
  struct Waiting {
    std::atomic<size_t>& n;
    ~Waiting() { n--; }
  } waiting{interactive_waiting_};
  if (++interactive_waiting_ > options_.max_queued_interactive) {
    return make_error(ErrorCode::kRateLimited, "more than " + std::to_string(options_.max_queued_interactive) +
                                                   " interactive requests are waiting (--max-queued-requests): "
                                                   "try again in a moment");
  }
  // The lease pins the model until the answer is here: it is not unloaded under the request.
  BW_ASSIGN_OR_RETURN(ModelLease lease, pool_->acquire(model));
  EngineRequest request;
  request.kind = kind;
  request.body = body;
  request.request_id = "req_" + new_batch_id().substr(6, 16);
  auto promise = std::make_shared<std::promise<EngineResult>>();
  auto answer = promise->get_future();
  if (!lease.runner().submit_interactive(std::move(request), [promise](EngineResult r) { promise->set_value(std::move(r)); })) {
    return make_error(ErrorCode::kUnavailable, "the server is stopping");
  }
  if (answer.wait_for(std::chrono::duration<double>(options_.interactive_timeout_s)) != std::future_status::ready) {
    return make_error(ErrorCode::kTimeout, "no answer within " + std::to_string(options_.interactive_timeout_s) + " s");
  }
  EngineResult r = answer.get();
  metrics_.observe(model, answer_figures(r), true);
  if (r.error) return std::unexpected(*r.error);
  return !r.raw_body.empty() ? r.raw_body : r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json BatchService::models_list() const {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& id : pool_->local_ids()) {
    data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "batchwise"}});
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace batchwise
