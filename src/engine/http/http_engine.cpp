#include "engine/http/http_engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/clock.h"
#include "engine/http/observed_timeout.h"
#include "core/log.h"
#include "core/thread.h"
#include "engine/http/endpoint_probe.h"
#include "engine/http/http_transport.h"
#include "engine/http/openai_response.h"
#include "engine/http/request_body.h"
#include "engine/http/sse_assembler.h"

namespace batchwise {
namespace {

// A request between submit() and its result.
struct Queued {
  EngineRequest request;
  std::string body_text;   // serialized once, sent as often as needed
  double submitted_s = 0;
  int redispatches = 0;
  int rate_limited = 0;
  double first_rate_limited_s = 0;  // when its first 429 came: the outage limit counts from there
};

// An error body kept for the error line: the server's words, not a 50 MB page.
constexpr size_t kKeptErrorBodyBytes = 64u << 10;

struct Flight {
  Queued queued;
  size_t endpoint = 0;
  double sent_s = 0;
  double timeout_s = 0;  // what this transfer was given (ObservedTimeout's limit when it was sent)
  std::unique_ptr<SseAssembler> sse;  // streamed requests; heap-held so the transfer's callback can keep it
};

// Embeddings have no stream; a Responses stream is a different event protocol, so those answers come whole.
bool streams(const HttpEngineOptions& options, ApiKind kind) {
  return options.stream && (kind == ApiKind::kChatCompletions || kind == ApiKind::kCompletions);
}

class HttpEngineImpl final : public HttpEngine {
 public:
  HttpEngineImpl(HttpEngineOptions options, std::vector<std::string> base_urls,
                 std::unique_ptr<HttpTransport> transport)
      : options_(std::move(options)),
        base_urls_(base_urls),
        transport_(std::move(transport)),
        pool_(std::move(base_urls), pool_options(options_)) {
    for (const auto& base : base_urls_) {
      auto& urls = request_urls_.emplace_back();
      for (size_t k = 0; k < kApiKinds; ++k) urls[k] = base + std::string(api_kind_url(static_cast<ApiKind>(k)));
      health_urls_.push_back(base + "/health");
    }
    max_in_flight_ = base_urls_.size() * static_cast<size_t>(options_.max_concurrency) * 2;
    views_ = pool_.views();
  }

  ~HttpEngineImpl() override {
    stop(false);
    if (thread_.joinable()) thread_.join();
  }

  Status start(Callback on_done) override {
    on_done_ = std::move(on_done);
    BW_TRY(probe_endpoints());
    thread_ = run_thread("http engine", [this] { loop(); }, [this](const std::string& what) { fail_all(what); });
    return {};
  }

  bool submit(EngineRequest request) override {
    Queued q;
    q.body_text = request_body(request, streams(options_, request.kind));
    request.body_text.clear();
    request.body = nullptr;  // sent as body_text from here on
    q.request = std::move(request);
    q.submitted_s = now_s();
    {
      std::unique_lock lock(mu_);
      space_cv_.wait(lock, [&] { return held_ < max_in_flight_ || stop_requested_; });
      if (stop_requested_) return false;
      held_++;
      incoming_.push_back(std::move(q));
    }
    // One wake-up per sleep, not per request: a syscall per request costs more than the rest of it.
    if (loop_sleeping_.exchange(false)) transport_->wakeup();
    return true;
  }

  void stop(bool finish_in_flight) override {
    {
      std::lock_guard lock(mu_);
      stop_requested_ = true;
      if (!finish_in_flight) finish_in_flight_ = false;
    }
    space_cv_.notify_all();
    transport_->wakeup();
    // No join here: the runner calls stop(true) and then stop(false) once its grace period is
    // over, which it could not do while blocked on a server that never answers.
  }

  size_t max_in_flight() const override { return max_in_flight_; }
  bool takes_body_text() const override { return true; }

  EngineStats stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }

  std::vector<EndpointView> endpoints() const override {
    std::lock_guard lock(mu_);
    return views_;
  }

  std::optional<Error> failure() const override {
    std::lock_guard lock(mu_);
    return failure_;
  }

  std::string description() const override {
    std::string urls;
    for (const auto& u : base_urls_) urls += (urls.empty() ? "" : ", ") + u;
    return "HTTP: " + std::to_string(base_urls_.size()) + (base_urls_.size() == 1 ? " endpoint (" : " endpoints (") +
           urls + "), up to " + std::to_string(options_.max_concurrency) + " requests in flight each";
  }

 private:
  static PoolOptions pool_options(const HttpEngineOptions& o) {
    PoolOptions p;
    p.concurrency.max = std::max(1, o.max_concurrency);
    p.concurrency.initial = std::min(o.initial_concurrency, p.concurrency.max);
    return p;
  }

  // Every endpoint asked before the first request (endpoint_probe.h): those that do not answer start out
  // down; llama-server's slot count sets where its limit starts.
  Status probe_endpoints() {
    const double now = now_s();
    const std::vector<EndpointProbe> probes = batchwise::probe_endpoints(*transport_, base_urls_, options_.start_probe_timeout_s);
    size_t up = 0;
    std::string detail;
    for (size_t i = 0; i < probes.size(); ++i) {
      const EndpointProbe& p = probes[i];
      if (!p.up) {
        log_warn("endpoint " + base_urls_[i] + " does not answer (" + p.failure +
                 "): no requests go there until a health check passes");
        pool_.set_down(i, now);
        detail += (detail.empty() ? "" : "; ") + base_urls_[i] + ": " + p.failure;
        continue;
      }
      up++;
      note_server(i, p.server);
      if (!p.total_slots) continue;
      pool_.set_server_slots(i, *p.total_slots, options_.start_at_server_slots);
      log_info("endpoint " + base_urls_[i] + " runs " + std::to_string(*p.total_slots) +
               " requests at once (/props total_slots): " + std::to_string(pool_.view(i).limit) +
               " in flight to start, never more than " + std::to_string(std::min(*p.total_slots, options_.max_concurrency)));
    }
    if (up == 0) {
      return make_error(ErrorCode::kUnavailable, "no endpoint answered (" + detail +
                                                     "): check the --endpoint URLs and that the servers are running");
    }
    std::lock_guard lock(mu_);
    views_ = pool_.views();
    return {};
  }

  void note_server(size_t i, const std::string& server) {
    if (is_llama_server(server)) hint_llama_server(i);
  }

  // Once per run, for the first llama-server met (every endpoint of a job is usually the same build).
  void hint_llama_server(size_t i) {
    if (!llama_warned_) log_warn(llama_server_advice(base_urls_[i]));
    llama_warned_ = true;
  }

  void loop() {
    double last_publish_s = 0;
    double all_down_since_s = 0;
    while (true) {
      bool stop = false, finish = true;
      {
        std::lock_guard lock(mu_);
        while (!incoming_.empty()) {
          pending_.push_back(std::move(incoming_.front()));
          incoming_.pop_front();
        }
        stop = stop_requested_;
        finish = finish_in_flight_;
      }
      const double now = now_s();
      if (stop) {
        while (!pending_.empty()) {
          deliver_error(pending_.front(), {ErrorCode::kCancelled, "stopped before it was sent"}, 0, now);
          pending_.pop_front();
        }
        if (!finish) {
          for (HttpReply& r : transport_->cancel_all()) {
            auto it = flights_.find(r.id);
            if (it == flights_.end()) continue;
            deliver_error(it->second.queued, {ErrorCode::kCancelled, "stopped while in flight"}, it->second.sent_s, now);
            flights_.erase(it);
          }
        }
        if (flights_.empty()) break;
      } else if (stall_check(now); failed()) {
        // Every endpoint stalled: nothing is sent; the runner stops us and keeps the rest pending.
      } else {
        dispatch(now);
        for (size_t i : pool_.due_health_checks(now)) {
          transport_->start({.id = kHealthBit | i, .url = health_urls_[i], .post = false, .body = {},
                             .timeout_s = std::min(5.0, options_.request_timeout_s)});
        }
        if (pool_.any_up()) {
          if (all_down_since_s > 0) {
            log_info("an endpoint answers again after " + std::to_string(static_cast<int>(now - all_down_since_s)) +
                     " s: the waiting requests go on");
          }
          all_down_since_s = 0;
        } else if (all_down_since_s == 0) {
          all_down_since_s = now;
          log_warn("no endpoint answers: waiting for one to come back (health checks continue; requests fail after " +
                   std::to_string(static_cast<int>(options_.outage_limit_s)) +
                   " s, --outage-limit). Check that the server is running; Ctrl-C keeps every request pending");
        } else if (now - all_down_since_s > options_.outage_limit_s) {
          while (!pending_.empty()) {
            deliver_error(pending_.front(),
                          {ErrorCode::kUnavailable, "no endpoint has answered for " +
                                                        std::to_string(static_cast<int>(options_.outage_limit_s)) +
                                                        " s (--outage-limit)"},
                          0, now);
            pending_.pop_front();
          }
        }
      }
      int timeout_ms = 100;
      if (!pending_.empty()) {
        const double wake = pool_.next_wakeup_s(now);
        timeout_ms = std::clamp(static_cast<int>((wake - now) * 1000) + 1, 1, 100);
      }
      loop_sleeping_.store(true);
      {
        std::lock_guard lock(mu_);  // a submit() after this sees loop_sleeping_ and wakes us
        // New work, or a stop this iteration has not acted on yet: no sleep. (A stop already seen,
        // waiting for requests in flight, sleeps like any other wait.)
        if (!incoming_.empty() || stop_requested_ != stop || finish_in_flight_ != finish) timeout_ms = 0;
      }
      for (HttpReply& r : transport_->poll(timeout_ms)) handle(r);
      loop_sleeping_.store(false);
      hand_over();
      if (now - last_publish_s > 0.05) {
        last_publish_s = now;
        std::lock_guard lock(mu_);
        views_ = pool_.views();
      }
    }
    hand_over();
    (void)transport_->cancel_all();  // health checks still out
    std::lock_guard lock(mu_);
    views_ = pool_.views();
  }

  void dispatch(double now) {
    while (!pending_.empty()) {
      Queued& q = pending_.front();
      std::optional<size_t> i = pool_.choose(q.request.prefix_key, now);
      if (!i) return;
      pool_.on_dispatch(*i, now);
      const uint64_t id = next_id_++;
      // The flight owns the body the transfer reads (node addresses in flights_ are stable).
      Flight& f = flights_.emplace(id, Flight{std::move(q), *i, now, timeout_.limit_s(), nullptr}).first->second;
      pending_.pop_front();
      std::function<void(std::string_view)> on_data;
      if (streams(options_, f.queued.request.kind)) {
        f.sse = std::make_unique<SseAssembler>(f.queued.request.kind == ApiKind::kChatCompletions);
        // The transfer ends (and stops calling) before its flight is dropped in handle().
        on_data = [sse = f.sse.get()](std::string_view bytes) { (void)sse->feed(bytes, now_s()); };
      }
      transport_->start({.id = id, .url = request_urls_[*i][static_cast<size_t>(f.queued.request.kind)], .post = true,
                         .body = f.queued.body_text, .timeout_s = f.timeout_s,
                         .on_data = std::move(on_data)});
    }
  }

  void handle(HttpReply& r) {
    const double now = now_s();
    if (r.id & kHealthBit) {
      const size_t i = r.id & ~kHealthBit;
      const bool was_up = pool_.view(i).up;
      pool_.on_health(i, health_ok(r), now);
      if (!was_up && pool_.view(i).up) log_info("endpoint " + base_urls_[i] + " answers again: sending requests to it");
      if (health_ok(r)) note_server(i, r.server);
      return;
    }
    auto it = flights_.find(r.id);
    if (it == flights_.end()) return;
    Flight f = std::move(it->second);
    flights_.erase(it);
    // The loop's one catch-all: whatever a reply throws (a bug, an allocation failure on a huge
    // answer) ends this request with an error; the event loop and every other request go on.
    try {
      handle_flight(f, r, now);
    } catch (const std::exception& e) {
      deliver_error(f.queued, {ErrorCode::kInternal, "reading the answer failed: " + std::string(e.what())}, f.sent_s, now);
    } catch (...) {
      deliver_error(f.queued, {ErrorCode::kInternal, "reading the answer failed"}, f.sent_s, now);
    }
  }

  void handle_flight(Flight& f, HttpReply& r, double now) {
    const double latency_ms = (now - f.sent_s) * 1000;
    const std::string& url = base_urls_[f.endpoint];
    if (r.failure == TransportFailure::kNone && pool_.view(f.endpoint).stalled) {
      // A late answer: it was slow, not stalled. It is used again (and the run goes on, unless the
      // runner already acted on the failure).
      pool_.unstall(f.endpoint);
      log_info("endpoint " + url + " answered after all: sending requests to it again");
      std::lock_guard lock(mu_);
      failure_.reset();
    }
    switch (r.failure) {
      case TransportFailure::kCancelled:
        pool_.on_finish(f.endpoint, EndpointOutcome::kClientError, latency_ms, now);
        deliver_error(f.queued, {ErrorCode::kCancelled, "stopped while in flight"}, f.sent_s, now);
        return;
      case TransportFailure::kTimeout: {
        pool_.on_finish(f.endpoint, EndpointOutcome::kTimeout, latency_ms, now);
        if (!pool_.view(f.endpoint).up) {
          log_warn("endpoint " + url + " let requests time out repeatedly: taken out until a health check passes");
        }
        deliver_error(f.queued, {ErrorCode::kTimeout, url + ": " + timeout_.describe_timeout(f.timeout_s)}, f.sent_s, now);
        return;
      }
      case TransportFailure::kTooLarge:
        pool_.on_finish(f.endpoint, EndpointOutcome::kClientError, latency_ms, now);
        deliver_error(f.queued, {ErrorCode::kServerError, url + ": " + r.failure_message}, f.sent_s, now, 502);
        return;
      case TransportFailure::kConnection:
      case TransportFailure::kOther: {
        const bool was_up = pool_.view(f.endpoint).up;
        pool_.on_finish(f.endpoint, EndpointOutcome::kConnectionFailed, latency_ms, now);
        if (was_up && !pool_.view(f.endpoint).up) {
          log_warn("endpoint " + url + " failed (" + r.failure_message +
                   "): taken out, its requests go to the other endpoints; health checks will bring it back");
        }
        if (!stopping() && r.failure == TransportFailure::kConnection &&
            f.queued.redispatches < options_.max_redispatches) {
          f.queued.redispatches++;
          pending_.push_front(std::move(f.queued));
          return;
        }
        deliver_error(f.queued, {ErrorCode::kUnavailable, url + ": " + r.failure_message}, f.sent_s, now);
        return;
      }
      case TransportFailure::kNone:
        break;
    }
    if (r.status >= 200 && r.status < 300) {
      pool_.on_finish(f.endpoint, EndpointOutcome::kOk, latency_ms, now);
      timeout_.on_answer(now - f.sent_s);
      deliver_ok(f, r, now);
      return;
    }
    if (r.status == 429) {
      pool_.on_finish(f.endpoint, EndpointOutcome::kRateLimited, latency_ms, now, r.retry_after_s);
      if (f.queued.first_rate_limited_s == 0) f.queued.first_rate_limited_s = now;
      // While stopping the 429 goes back to the runner, which keeps the request pending.
      if (!stopping() && f.queued.rate_limited < options_.max_rate_limited_resends &&
          now - f.queued.first_rate_limited_s < options_.outage_limit_s) {
        f.queued.rate_limited++;
        pending_.push_front(std::move(f.queued));
        return;
      }
    } else if (r.status >= 500 && error_for_http_status(r.status, r.body).code != ErrorCode::kContextExceeded) {
      pool_.on_finish(f.endpoint, EndpointOutcome::kServerError, latency_ms, now);
      if (!pool_.view(f.endpoint).up) {
        log_warn("endpoint " + url + " answered HTTP " + std::to_string(r.status) +
                 " repeatedly: taken out until a health check passes");
      }
    } else {  // the request's fault (a context overflow too, whatever the status): the endpoint is fine
      pool_.on_finish(f.endpoint, EndpointOutcome::kClientError, latency_ms, now);
    }
    EngineResult result = base_result(f.queued, f.sent_s, now);
    result.status_code = r.status;
    result.error = error_for_http_status(r.status, r.body);
    result.error->message = url + ": " + result.error->message;
    result.retry_after_s = r.retry_after_s;
    // The server's own answer goes to the error line's `response`, as OpenAI's batch error lines carry it.
    result.raw_body = r.body.size() <= kKeptErrorBodyBytes ? std::move(r.body) : r.body.substr(0, kKeptErrorBodyBytes);
    deliver(std::move(result));
  }

  bool stopping() const {
    std::lock_guard lock(mu_);
    return stop_requested_;
  }

  bool failed() const {
    std::lock_guard lock(mu_);
    return failure_.has_value();
  }

  void stall_check(double now) {
    for (size_t i : pool_.newly_stalled(now, timeout_.limit_s())) on_stalled(i, now);
  }

  // Endpoint `i` owed answers for longer than the stall limit: out for the rest of the run. Its
  // requests go to the other endpoints (not counted as attempts: the server lost them); when no
  // endpoint is left the engine fails and the runner keeps them pending.
  void on_stalled(size_t i, double now) {
    const std::string& url = base_urls_[i];
    const int in_flight = pool_.view(i).outstanding;
    char why[320];
    std::snprintf(why, sizeof why,
                  "endpoint %s stalled: %d requests in flight and no answer for %.1f s (the stall limit: %s)", url.c_str(),
                  in_flight, pool_.owed_for_s(i, now), timeout_.describe_stall_limit().c_str());
    if (pool_.all_stalled()) {
      log_warn(std::string(why) + "; no endpoint is left: the run stops, the requests not done stay pending");
      std::lock_guard lock(mu_);
      failure_ = Error{ErrorCode::kUnavailable, std::string(why) +
                                                    ". Check the server's log (it may be stuck while /health still answers) "
                                                    "and restart it; the same command then resumes"};
      return;
    }
    log_warn(std::string(why) + ": taken out for the rest of this run (its /health still answers, so a health "
                                "check cannot tell it works again); its requests go to the other endpoints");
    for (HttpReply& r : transport_->cancel([&](uint64_t id) {
           auto it = flights_.find(id);
           return it != flights_.end() && it->second.endpoint == i;
         })) {
      auto it = flights_.find(r.id);
      pool_.on_finish(i, EndpointOutcome::kClientError, 0, now);
      pending_.push_front(std::move(it->second.queued));
      flights_.erase(it);
    }
  }

  EngineResult base_result(const Queued& q, double sent_s, double now) const {
    EngineResult result;
    result.key = q.request.key;
    result.timings.queue_ms = sent_s > 0 ? (sent_s - q.submitted_s) * 1000 : (now - q.submitted_s) * 1000;
    result.timings.total_ms = (now - q.submitted_s) * 1000;
    // Not streamed: the first token reaches us with the whole answer.
    result.timings.ttft_ms = result.timings.total_ms;
    return result;
  }

  void deliver_ok(Flight& f, HttpReply& r, double now) {
    EngineResult result = base_result(f.queued, f.sent_s, now);
    result.status_code = r.status;
    // A server that ignored "stream" answered with plain JSON: take it as it is.
    if (f.sse && f.sse->saw_events()) {
      Expected<nlohmann::json> body = f.sse->finish();
      if (!body) {
        result.status_code = 502;
        result.error = Error{body.error().code, base_urls_[f.endpoint] + ": " + body.error().message};
        deliver(std::move(result));
        return;
      }
      r.body = body->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (f.sse->first_content_s()) result.timings.ttft_ms = (*f.sse->first_content_s() - f.queued.submitted_s) * 1000;
      result.timings.itl_ms = f.sse->mean_gap_ms();
    }
    const std::optional<ResponseUsage> read = read_usage(r.body);
    if (!read) {
      result.status_code = 502;
      result.error = Error{ErrorCode::kServerError, base_urls_[f.endpoint] + ": HTTP " + std::to_string(r.status) +
                                                        " with a body that is not JSON"};
      deliver(std::move(result));
      return;
    }
    // A 200 that does not answer the question (no `choices`, content a number) is the server's fault.
    if (const std::string wrong = answer_shape_error(f.queued.request.kind, *read); !wrong.empty()) {
      result.status_code = 502;
      result.error = Error{ErrorCode::kServerError,
                           base_urls_[f.endpoint] + ": HTTP " + std::to_string(r.status) + " but " + wrong};
      deliver(std::move(result));
      return;
    }
    const ResponseUsage& usage = *read;
    if (usage.llama_server) hint_llama_server(f.endpoint);
    result.prompt_tokens = usage.prompt_tokens;
    result.cached_tokens = usage.cached_tokens;
    result.completion_tokens = usage.completion_tokens;
    result.raw_body = std::move(r.body);
    deliver(std::move(result));
  }

  // The loop's exception boundary: every request it held gets an error and no more are taken, so no
  // caller waits for an answer the ended loop cannot give.
  void fail_all(const std::string& what) {
    std::deque<Queued> incoming;
    {
      std::lock_guard lock(mu_);
      stop_requested_ = true;
      incoming.swap(incoming_);
    }
    space_cv_.notify_all();
    const Error error{ErrorCode::kInternal, "internal error in the HTTP engine: " + what};
    const double now = now_s();
    for (const Queued& q : incoming) deliver_error(q, error, 0, now);
    for (const Queued& q : pending_) deliver_error(q, error, 0, now);
    pending_.clear();
    for (const auto& [id, flight] : flights_) deliver_error(flight.queued, error, flight.sent_s, now);
    flights_.clear();
    hand_over();
  }

  void deliver_error(const Queued& q, Error error, double sent_s, double now, int status_code = 0) {
    EngineResult result = base_result(q, sent_s, now);
    result.status_code = status_code;
    result.error = std::move(error);
    deliver(std::move(result));
  }

  // Results wait in done_ (the loop thread's alone) until the loop iteration that made them ends.
  void deliver(EngineResult result) {
    {
      std::lock_guard lock(mu_);
      held_--;
      if (result.error) {
        if (result.error->code != ErrorCode::kCancelled) stats_.requests_failed++;
      } else {
        stats_.requests_done++;
        stats_.prompt_tokens_submitted += result.prompt_tokens;
        stats_.prompt_tokens_evaluated += result.prompt_tokens - result.cached_tokens;
        stats_.generated_tokens += result.completion_tokens;
      }
    }
    done_.push_back(std::move(result));
  }

  void hand_over() {
    if (done_.empty()) return;
    space_cv_.notify_all();
    std::vector<EngineResult> done;
    done.swap(done_);
    on_done_(std::move(done));
  }

  static constexpr uint64_t kHealthBit = uint64_t{1} << 63;

  const HttpEngineOptions options_;
  const std::vector<std::string> base_urls_;
  std::vector<std::array<std::string, kApiKinds>> request_urls_;  // per endpoint, per ApiKind
  std::vector<std::string> health_urls_;
  std::atomic<bool> loop_sleeping_{false};
  std::unique_ptr<HttpTransport> transport_;
  size_t max_in_flight_ = 0;
  Callback on_done_;
  std::thread thread_;

  mutable std::mutex mu_;  // guards the fields down to views_
  std::condition_variable space_cv_;
  std::deque<Queued> incoming_;
  size_t held_ = 0;  // submitted, result not yet delivered
  bool stop_requested_ = false;
  bool finish_in_flight_ = true;
  EngineStats stats_;
  std::vector<EndpointView> views_;
  std::optional<Error> failure_;  // every endpoint stalled

  // Event loop only (and start(), before the loop exists).
  EndpointPool pool_;
  ObservedTimeout timeout_{ObservedTimeoutOptions{.fixed_limit_s = options_.request_timeout_s,
                                                  .p99_multiple = options_.timeout_p99_multiple,
                                                  .floor_s = options_.timeout_floor_s}};
  std::deque<Queued> pending_;
  std::unordered_map<uint64_t, Flight> flights_;
  uint64_t next_id_ = 1;
  bool llama_warned_ = false;
  std::vector<EngineResult> done_;  // delivered, not yet handed over (see deliver)
};

}  // namespace

Expected<std::unique_ptr<HttpEngine>> make_http_engine(const HttpEngineOptions& options) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> urls, normalize_endpoints(options.endpoints));
  if (options.max_concurrency < 1) return make_error(ErrorCode::kInvalidArgument, "--max-concurrency must be at least 1");
  if (options.request_timeout_s <= 0) return make_error(ErrorCode::kInvalidArgument, "--request-timeout must be positive");
  HttpTransportOptions t;
  t.bearer_token = options.api_key;
  t.max_connections = static_cast<long>(urls.size()) * options.max_concurrency + 16;
  t.max_response_bytes = options.max_response_bytes;
  BW_ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport, HttpTransport::create(t));
  return std::unique_ptr<HttpEngine>(new HttpEngineImpl(options, std::move(urls), std::move(transport)));
}

}  // namespace batchwise
