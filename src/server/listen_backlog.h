// cpp-httplib as Debian ships it (0.11, a compiled library) listens with a backlog of 5. A burst of
// connections overflows that queue, and each handshake the kernel drops waits out TCP's 1 s
// retransmission: a /health probe took 1,024 ms in CI while 64 slow clients connected. WideBacklog
// notes the socket httplib binds and listens on it again with the system's limit (on Linux a second
// listen() only changes the queue's length).
#pragma once

#include <httplib.h>

#include <memory>

namespace batchwise {

class WideBacklog {
 public:
  // Before the server binds: replaces its socket options (keeping httplib's defaults).
  explicit WideBacklog(httplib::Server& server);
  // After a successful bind.
  void widen() const;

 private:
  std::shared_ptr<int> fd_ = std::make_shared<int>(-1);  // the last socket offered is the one that bound
};

}  // namespace batchwise
