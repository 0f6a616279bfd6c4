#include "stub_openai_server.h"

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "server/listen_backlog.h"

namespace batchwise::test {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double unit(uint64_t seed, uint64_t n, uint64_t salt) {
  return static_cast<double>(splitmix64(seed ^ splitmix64(n * 8 + salt)) >> 11) * 0x1.0p-53;
}

void sleep_ms(double ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
}

std::string piece(int i) { return (i > 0 ? " tok" : "tok") + std::to_string(i); }

}  // namespace

std::string stub_stream_text(int chunks) {
  std::string text;
  for (int i = 0; i < chunks; ++i) text += piece(i);
  return text;
}

struct StubOpenAiServer::Impl {
  httplib::Server server;
  WideBacklog backlog{server};  // 64 clients connecting at once must not wait out a dropped handshake
  std::thread thread;
  int port = 0;
  std::atomic<bool> killed{false};
  mutable std::mutex mu;
  StubBehavior behavior;
  std::vector<StubEvent> events;
  std::string authorization;
  std::atomic<int64_t> arrivals{0};
  std::atomic<int64_t> ok{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::mutex slots_mu;  // `capacity`: POSTs being served
  std::condition_variable slots_cv;
  int serving = 0;

  // Waits for one of `capacity` slots (0: none needed); the guard gives it back.
  struct Slot {
    explicit Slot(Impl* owner = nullptr) : impl(owner) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Impl* impl;
    ~Slot() {
      if (!impl) return;
      std::lock_guard lock(impl->slots_mu);
      impl->serving--;
      impl->slots_cv.notify_one();
    }
  };
  Slot take_slot(int capacity) {
    if (capacity <= 0) return Slot();
    std::unique_lock lock(slots_mu);
    slots_cv.wait(lock, [&] { return serving < capacity || killed; });
    serving++;
    return Slot(this);
  }

  StubBehavior current() {
    std::lock_guard lock(mu);
    return behavior;
  }

  void record(size_t index, int status) {
    std::lock_guard lock(mu);
    if (index < events.size()) events[index].status = status;
  }

  // Closes the connection after the status line: the client sees an incomplete answer.
  static void drop(httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink&) { return false; });
  }

  // A 200 answer with `body`, sent whole, dripped or cut off halfway as the behavior says.
  void send_ok(httplib::Response& res, const std::string& body, const StubBehavior& b) {
    if (b.drip_ms_per_byte > 0) {
      res.set_content_provider(body.size(), "application/json",
                               [this, body, ms = b.drip_ms_per_byte](size_t offset, size_t, httplib::DataSink& sink) {
                                 for (double waited = 0; waited < ms && !killed; waited += 20) sleep_ms(std::min(20.0, ms));
                                 return !killed && sink.write(body.data() + offset, 1);
                               });
    } else if (b.reset_mid_body) {
      res.set_content_provider(body.size(), "application/json",
                               [body](size_t offset, size_t, httplib::DataSink& sink) {
                                 const size_t half = body.size() / 2;
                                 if (offset >= half) return false;  // closes the connection
                                 return sink.write(body.data() + offset, half - offset);
                               });
    } else {
      res.set_content(body, "application/json");
    }
  }

  void stream(httplib::Response& res, bool chat, uint64_t n, size_t index, const StubBehavior& b, int64_t prompt_tokens);

  void complete(const httplib::Request& req, httplib::Response& res, bool chat) {
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    const uint64_t n = static_cast<uint64_t>(arrivals.fetch_add(1));
    const StubBehavior b = current();
    size_t index = SIZE_MAX;
    if (b.record_events) {
      std::lock_guard lock(mu);
      index = events.size();
      events.push_back({now_s(), 0, req.body});
      authorization = req.get_header_value("Authorization");
    }
    answer(req, res, chat, n, index, b);
    in_flight.fetch_sub(1);
  }

  void answer(const httplib::Request& req, httplib::Response& res, bool chat, uint64_t n, size_t index,
              const StubBehavior& b) {
    const Slot slot = take_slot(b.capacity);
    sleep_ms(b.delay_ms);
    if (killed) return drop(res);
    if (b.llama_like) res.set_header("Server", "llama.cpp");
    if (unit(b.seed, n, 1) < b.rate_drop) return drop(res);
    if (unit(b.seed, n, 2) < b.rate_hang) {
      for (double waited = 0; waited < b.hang_s * 1000 && !killed; waited += 20) sleep_ms(20);
      return drop(res);
    }
    if (unit(b.seed, n, 3) < b.rate_429) {
      if (b.retry_after_s > 0) res.set_header("Retry-After", std::to_string(static_cast<int>(b.retry_after_s + 0.5)));
      res.status = 429;
      res.set_content(R"J({"error":{"message":"rate limited (stub)","type":"rate_limit_error"}})J", "application/json");
      return record(index, 429);
    }
    if (unit(b.seed, n, 4) < b.rate_500) {
      res.status = b.error_status;
      if (b.error_status == 503 && b.retry_after_s > 0) {
        res.set_header("Retry-After", std::to_string(static_cast<int>(b.retry_after_s + 0.5)));
      }
      res.set_content(b.error_body.empty() ? R"J({"error":{"message":"internal error (stub)","type":"server_error"}})J"
                                           : b.error_body,
                      "application/json");
      return record(index, b.error_status);
    }
    const int64_t prompt_tokens = static_cast<int64_t>(req.body.size() / 4) + 1;
    const int64_t cached = b.llama_like ? prompt_tokens / 2 : 0;
    if (req.body.find("\"stream\"") != std::string::npos) {
      const auto request = nlohmann::json::parse(req.body, nullptr, false);
      if (request.is_object() && request.value("stream", false)) {
        if (!b.stream_body.empty()) {
          res.set_content(b.stream_body, "text/event-stream");
          return record(index, 200);
        }
        return stream(res, chat, n, index, b, prompt_tokens);
      }
    }
    if (!b.ok_body.empty()) {
      send_ok(res, b.ok_body, b);
      ok.fetch_add(1);
      return record(index, 200);
    }
    std::string body;
    body.reserve(512);
    body += R"({"id":"stub-)" + std::to_string(n) + R"(","object":")";
    body += chat ? "chat.completion" : "text_completion";
    body += R"(","created":1764000000,"model":"stub","choices":[{"index":0,)";
    body += chat ? R"("message":{"role":"assistant","content":"ok"},)" : R"("text":"ok",)";
    body += R"("finish_reason":"stop"}],"usage":{"prompt_tokens":)" + std::to_string(prompt_tokens) +
            R"(,"completion_tokens":1,"total_tokens":)" + std::to_string(prompt_tokens + 1);
    if (!b.llama_like) {
      body += R"(,"prompt_tokens_details":{"cached_tokens":0}})";
    } else {
      body += R"(},"timings":{"cache_n":)" + std::to_string(cached) + R"(,"prompt_n":)" +
              std::to_string(prompt_tokens - cached) + "}";
    }
    body += "}";
    send_ok(res, body, b);
    ok.fetch_add(1);
    record(index, 200);
  }
};

void StubOpenAiServer::Impl::stream(httplib::Response& res, bool chat, uint64_t n, size_t index, const StubBehavior& b,
                                    int64_t prompt_tokens) {
  if (b.llama_like) res.set_header("Server", "llama.cpp");
  res.set_chunked_content_provider("text/event-stream", [this, chat, n, index, b, prompt_tokens](size_t,
                                                                                             httplib::DataSink& sink) {
    auto chunk = [&](const nlohmann::json& choice, const nlohmann::json& usage) {
      nlohmann::json c = {{"id", "stub-" + std::to_string(n)},
                          {"object", chat ? "chat.completion.chunk" : "text_completion"},
                          {"created", 1764000000},
                          {"model", "stub"},
                          {"choices", choice.is_null() ? nlohmann::json::array() : nlohmann::json::array({choice})}};
      if (!usage.is_null()) c["usage"] = usage;
      const std::string event = "data: " + c.dump() + "\n\n";
      return sink.write(event.data(), event.size());
    };
    for (int i = 0; i < b.stream_chunks; ++i) {
      sleep_ms(i == 0 ? b.stream_first_ms : b.stream_gap_ms);
      if (killed) return false;
      nlohmann::json choice = {{"index", 0}, {"finish_reason", nullptr}};
      if (chat) {
        choice["delta"] = i == 0 ? nlohmann::json{{"role", "assistant"}, {"content", piece(i)}}
                                 : nlohmann::json{{"content", piece(i)}};
      } else {
        choice["text"] = piece(i);
      }
      if (!chunk(choice, nullptr)) return false;
    }
    nlohmann::json last = {{"index", 0}, {"finish_reason", "stop"}};
    if (chat) last["delta"] = nlohmann::json::object(); else last["text"] = "";
    nlohmann::json usage = {{"prompt_tokens", prompt_tokens}, {"completion_tokens", b.stream_chunks},
                            {"total_tokens", prompt_tokens + b.stream_chunks}};
    if (!chunk(last, nullptr) || !chunk(nullptr, usage)) return false;
    const std::string done = ": stub keep-alive comment\n\ndata: [DONE]\n\n";
    if (!sink.write(done.data(), done.size())) return false;
    sink.done();
    ok.fetch_add(1);
    record(index, 200);
    return true;
  });
}

StubOpenAiServer::StubOpenAiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<StubOpenAiServer> StubOpenAiServer::start(StubBehavior behavior, int threads, int port) {
  auto impl = std::make_unique<Impl>();
  impl->behavior = behavior;
  Impl* p = impl.get();
  p->server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  p->server.set_tcp_nodelay(true);  // else Nagle + delayed ACK add 40 ms to every answer
  p->server.set_keep_alive_max_count(1 << 30);
  p->server.set_keep_alive_timeout(30);
  p->server.Post("/v1/chat/completions",
                 [p](const httplib::Request& req, httplib::Response& res) { p->complete(req, res, true); });
  p->server.Post("/v1/completions",
                 [p](const httplib::Request& req, httplib::Response& res) { p->complete(req, res, false); });
  p->server.Get("/health", [p](const httplib::Request&, httplib::Response& res) {
    // A killed server still holds kept-alive connections until its workers end: it must not answer
    // health checks on them either, or a client sees it come back.
    if (p->killed) return p->drop(res);
    if (p->current().llama_like) res.set_header("Server", "llama.cpp");
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  p->server.Get("/props", [p](const httplib::Request&, httplib::Response& res) {
    const int slots = p->current().total_slots;
    if (p->killed || slots <= 0) {
      res.status = 404;
      return;
    }
    res.set_content(R"({"default_generation_settings":{"n_ctx":4096},"total_slots":)" + std::to_string(slots) +
                        R"(,"model_path":"stub.gguf","build_info":"stub"})",
                    "application/json");
  });
  if (port > 0) {
    // A port just given up may still be in TIME_WAIT for a moment: try for a second.
    bool bound = false;
    for (int i = 0; i < 100 && !bound; ++i) {
      bound = p->server.bind_to_port("127.0.0.1", port);
      if (!bound) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!bound) return nullptr;
    p->port = port;
  } else {
    p->port = p->server.bind_to_any_port("127.0.0.1");
  }
  if (p->port <= 0) return nullptr;
  p->backlog.widen();
  p->thread = std::thread([p] { p->server.listen_after_bind(); });
  while (!p->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<StubOpenAiServer>(new StubOpenAiServer(std::move(impl)));
}

StubOpenAiServer::~StubOpenAiServer() { kill(); }

int StubOpenAiServer::port() const { return impl_->port; }
std::string StubOpenAiServer::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void StubOpenAiServer::set_behavior(const StubBehavior& behavior) {
  std::lock_guard lock(impl_->mu);
  impl_->behavior = behavior;
}

void StubOpenAiServer::kill() {
  impl_->killed = true;
  {
    std::lock_guard lock(impl_->slots_mu);
    impl_->slots_cv.notify_all();
  }
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void StubOpenAiServer::wait() {
  if (impl_->thread.joinable()) impl_->thread.join();
}

int64_t StubOpenAiServer::requests() const { return impl_->arrivals.load(); }
int64_t StubOpenAiServer::answered_ok() const { return impl_->ok.load(); }
int StubOpenAiServer::max_in_flight() const { return impl_->max_in_flight.load(); }
void StubOpenAiServer::reset_max_in_flight() { impl_->max_in_flight = impl_->in_flight.load(); }

std::vector<StubEvent> StubOpenAiServer::events() const {
  std::lock_guard lock(impl_->mu);
  return impl_->events;
}

std::string StubOpenAiServer::last_authorization() const {
  std::lock_guard lock(impl_->mu);
  return impl_->authorization;
}

}  // namespace batchwise::test
