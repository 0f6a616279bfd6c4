// `serve` under many and slow clients: half-open connections hold no thread (/health stays fast while a
// batch runs), a connection past --max-connections is refused clearly, and the stated limits on heads,
// open batches and queued requests answer 431 / 429 with a reason, never hang.
#include <algorithm>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <thread>

#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;
using Clock = std::chrono::steady_clock;

// A client that opens a connection, sends the start of a request line, and then nothing.
class HalfOpen {
 public:
  HalfOpen(int port, const std::string& bytes) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (connected_ && !bytes.empty()) connected_ = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) > 0;
  }
  ~HalfOpen() { ::close(fd_); }
  bool connected() const { return connected_; }
  // Sends more; false once the server gave up on the request: it answered before the body was whole, or closed.
  bool send_more(const std::string& bytes) {
    char probe;
    const ssize_t r = ::recv(fd_, &probe, 1, MSG_DONTWAIT | MSG_PEEK);
    if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) > 0;
  }
  // True once `got` holds a head and as many body bytes as its Content-Length says.
  static bool whole_response(const std::string& got) {
    const size_t head_end = got.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    const size_t at = got.find("Content-Length: ");
    if (at == std::string::npos || at > head_end) return true;
    return got.size() - head_end - 4 >= std::stoul(got.substr(at + 16));
  }

  // One whole response, or what came until the server closed or `timeout_s` passed (empty if nothing): the head and
  // the body may arrive in separate segments, so one recv is not the whole answer.
  std::string answer(double timeout_s) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    std::string got;
    char buf[4096];
    while (Clock::now() < deadline) {
      timeval tv{0, 200000};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        if (whole_response(got)) break;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    }
    return got;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// Seconds a fresh connection's GET /health takes, and its status (0: no answer).
std::pair<double, int> probe_health(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(std::chrono::seconds(30));
  const auto t0 = Clock::now();
  auto res = http.Get("/health");
  return {std::chrono::duration<double>(Clock::now() - t0).count(), res ? res->status : 0};
}

TEST(ServeLimits, SixtyFourHalfOpenConnectionsNeverDelayHealthWhileABatchRunsAndIsPolled) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const int port = serve.process().port();
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(300, 16)))["id"];
  serve.wait(id, [](const json& b) { return b["request_counts"].value("completed", 0) >= 5; });
  std::vector<std::unique_ptr<HalfOpen>> slow;
  for (int i = 0; i < 64; ++i) {
    slow.push_back(std::make_unique<HalfOpen>(port, "GET /heal"));
    ASSERT_TRUE(slow.back()->connected()) << i;
  }
  std::vector<double> took;
  for (int i = 0; i < 20; ++i) {
    const auto [took_s, status] = probe_health(port);
    EXPECT_EQ(status, 200);
    took.push_back(took_s);
    // Polls and downloads go on too.
    const json b = serve.get("/v1/batches/" + id);
    ASSERT_TRUE(b.is_object());
    if (b["output_file_id"].is_string()) {
      EXPECT_GE(serve.content(b["output_file_id"]).size(), 5u);
    }
  }
  // The issue's bound, 100 ms, for the typical probe; the slowest may meet a loaded 2-core CI machine's
  // scheduler, so it gets ten times that. Without the gate each half-open connection held one of httplib's 8
  // threads for its 5 s read timeout: seconds per probe.
  std::sort(took.begin(), took.end());
  const double median_s = took[took.size() / 2], slowest_s = took.back();
  EXPECT_LT(median_s, 0.1) << "GET /health with 64 half-open connections held (median of 20)";
  EXPECT_LT(slowest_s, 1.0) << "GET /health with 64 half-open connections held (slowest of 20)";
  std::cout << "/health with 64 half-open connections: median " << median_s * 1000 << " ms, slowest " << slowest_s * 1000
            << " ms\n";
  serve.http().Post(("/v1/batches/" + id + "/cancel").c_str(), "", "application/json");
}

TEST(ServeLimits, PastMaxConnectionsANewConnectionGets503WithRetryAfterAndTheServerRecovers) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state", {"--max-connections", "8"});
  const int port = serve.process().port();
  {
    std::vector<std::unique_ptr<HalfOpen>> held;
    for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<HalfOpen>(port, "GET /v1/mod"));
    // The gate counts a connection once it has accepted it: wait until the limit is reached.
    std::string refused;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (refused.empty() && Clock::now() < deadline) {
      HalfOpen extra(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      const std::string a = extra.answer(5);
      if (a.starts_with("HTTP/1.1 503")) refused = a;
    }
    EXPECT_NE(refused.find("Retry-After:"), std::string::npos) << refused;
    EXPECT_NE(refused.find("--max-connections"), std::string::npos) << refused;
  }
  // The held connections closed: the server answers again.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (status != 200 && Clock::now() < deadline) status = probe_health(port).second;
  EXPECT_EQ(status, 200);
}

TEST(ServeLimits, ABodyOverItsLimitIsRefusedWith413FromItsContentLengthBeforeItIsSent) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const int port = serve.process().port();
  // Only the head is sent: the answer must come from Content-Length alone (read first, the server would wait for
  // 100 MB that never come, for its read timeout, and hold a worker meanwhile).
  for (const std::string path : {"/v1/batches", "/v1/chat/completions", "/v1/files"}) {
    HalfOpen big(port, "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                           "Content-Length: " + std::to_string(path == "/v1/files" ? 400000000 : 100000000) + "\r\n\r\n");
    const auto t0 = Clock::now();
    const std::string answer = big.answer(5);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << path << ": " << answer;
    EXPECT_NE(answer.find("is over"), std::string::npos) << answer;
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0) << path;
  }
  EXPECT_EQ(probe_health(port).second, 200) << "the server goes on";
}

// Slow loris on the body: a byte a second, each within the 10 s read timeout, would hold a worker for ever. The
// body's pace (16 KiB/s on average after 10 s) cuts it off, and the server answers others meanwhile.
TEST(ServeLimits, ABodyThatTricklesInIsCutOffAndTheServerAnswersMeanwhile) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state", {"--http-threads", "1"});
  const int port = serve.process().port();
  HalfOpen slow(port, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 100000\r\n\r\n{");
  ASSERT_TRUE(slow.connected());
  const auto t0 = Clock::now();
  bool open = true;
  while (open && Clock::now() - t0 < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    open = slow.send_more(" ");
  }
  const double held_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_FALSE(open) << "a body trickling in at a byte a second still held its worker after 60 s";
  EXPECT_GE(held_s, 9.0) << "cut off before its grace";
  // The one request worker is free again: a completion is answered.
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(std::chrono::seconds(60));
  const auto r = http.Post("/v1/chat/completions", R"({"model":"tiny","max_tokens":2,"messages":[{"role":"user","content":"hi"}]})",
                           "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  std::cout << "a body at a byte a second was cut off after " << held_s << " s\n";
}

// Interactive requests past --max-queued-requests are refused at once with 429 and Retry-After, naming the flag;
// those let in are answered.
TEST(ServeLimits, InteractiveRequestsPastTheQueueLimitAre429AndTheOthersAreAnswered) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state", {"--max-queued-requests", "2", "--http-threads", "6"});
  const int port = serve.process().port();
  const std::string long_chat =
      R"({"model":"tiny","max_tokens":300,"ignore_eos":true,"messages":[{"role":"user","content":"go on"}]})";
  std::vector<int> statuses(2, 0);
  std::vector<std::thread> long_ones;
  for (int i = 0; i < 2; ++i) {
    long_ones.emplace_back([&, i] {
      httplib::Client http("127.0.0.1", port);
      http.set_read_timeout(std::chrono::seconds(600));  // under a sanitizer too
      auto r = http.Post("/v1/chat/completions", long_chat, "application/json");
      statuses[static_cast<size_t>(i)] = r ? r->status : 0;
    });
  }
  // Both are being generated: the queue is full.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int in_flight = 0;
  while (in_flight < 2 && Clock::now() < deadline) {
    const json status = serve.get("/status.json");
    in_flight = status["models"].empty() ? 0 : status["models"][0].value("in_flight", 0);
  }
  ASSERT_EQ(in_flight, 2);
  httplib::Client http("127.0.0.1", port);
  const auto refused = http.Post("/v1/chat/completions", R"({"model":"tiny","max_tokens":2,"messages":[{"role":"user","content":"hi"}]})",
                                 "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_TRUE(refused->has_header("Retry-After"));
  EXPECT_NE(refused->body.find("--max-queued-requests"), std::string::npos) << refused->body;
  for (auto& t : long_ones) t.join();
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
}

TEST(ServeLimits, AnOversizedHeadIs431AndOpenBatchesPastTheLimitAre429) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state", {"--max-open-batches", "1"});
  HalfOpen big(serve.process().port(), "GET /health HTTP/1.1\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(big.answer(10).starts_with("HTTP/1.1 431")) << "an oversized head must get 431";

  const std::string file_id = serve.upload(test::serve_batch_file(300, 16));
  const json first = serve.create_batch(file_id);
  auto second = serve.http().Post("/v1/batches",
                                  json{{"input_file_id", file_id}, {"endpoint", "/v1/chat/completions"},
                                       {"completion_window", "24h"}}.dump(),
                                  "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429) << second->body;
  EXPECT_NE(second->body.find("--max-open-batches"), std::string::npos) << second->body;
  EXPECT_TRUE(second->has_header("Retry-After"));
  serve.http().Post(("/v1/batches/" + first["id"].get<std::string>() + "/cancel").c_str(), "", "application/json");
}

}  // namespace
}  // namespace batchwise
