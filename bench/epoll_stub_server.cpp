// A single-threaded epoll HTTP/1.1 server that answers every POST at once with a small OpenAI chat
// completion (usage included) and GET /health with 200: the cheapest possible peer for
// bench/http_dispatch.sh, so the benchmark measures the client, not the server, on a 2-core machine.
// Keep-alive, pipelining, nothing else (no chunked requests, no TLS). Benchmark use only.
//   epoll_stub_server   (prints http://127.0.0.1:PORT, serves until killed)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

struct Conn {
  std::string in;
  std::string out;
  bool want_out = false;  // EPOLLOUT registered
};

// Content-Length of a request head, 0 when absent.
size_t content_length(std::string_view head) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head.size() - pos >= 15 && strncasecmp(head.data() + pos, "content-length:", 15) == 0) {
      return std::strtoull(head.data() + pos + 15, nullptr, 10);
    }
  }
  return 0;
}

void answer(std::string_view head, size_t body_bytes, uint64_t n, std::string& out) {
  std::string body;
  if (head.starts_with("GET")) {
    body = R"({"status":"ok"})";
  } else {
    const size_t prompt = body_bytes / 4 + 1;
    body = R"({"id":"stub-)" + std::to_string(n) +
           R"(","object":"chat.completion","created":1764000000,"model":"stub","choices":[{"index":0,)"
           R"("message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":)" +
           std::to_string(prompt) + R"(,"completion_tokens":1,"total_tokens":)" + std::to_string(prompt + 1) +
           R"(,"prompt_tokens_details":{"cached_tokens":0}}})";
  }
  out += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n";
  out += body;
}

}  // namespace

int main() {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 1024) != 0) {
    std::perror("epoll_stub_server");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("http://127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int ep = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::unordered_map<int, Conn> conns;
  uint64_t served = 0;
  epoll_event events[256];
  char buf[65536];
  while (true) {
    const int n = ::epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c];
        }
        continue;
      }
      Conn& conn = conns[fd];
      bool closed = false;
      while (true) {
        const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got > 0) {
          conn.in.append(buf, static_cast<size_t>(got));
          continue;
        }
        if (got == 0) closed = true;
        break;
      }
      // Every complete request in the buffer gets its answer, in order.
      size_t start = 0;
      while (true) {
        const size_t head_end = conn.in.find("\r\n\r\n", start);
        if (head_end == std::string::npos) break;
        const std::string_view head(conn.in.data() + start, head_end - start);
        const size_t body = content_length(head);
        if (conn.in.size() < head_end + 4 + body) break;
        answer(head, body, served++, conn.out);
        start = head_end + 4 + body;
      }
      conn.in.erase(0, start);
      while (!conn.out.empty()) {
        const ssize_t sent = ::send(fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
        if (sent <= 0) break;
        conn.out.erase(0, static_cast<size_t>(sent));
      }
      // A full socket buffer: wait until it drains (and stop waiting once it did).
      if (!closed && conn.out.empty() == conn.want_out) {
        conn.want_out = !conn.out.empty();
        epoll_event mod{};
        mod.events = conn.want_out ? EPOLLIN | EPOLLOUT : EPOLLIN;
        mod.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod);
      }
      if (closed) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns.erase(fd);
      }
    }
  }
}
