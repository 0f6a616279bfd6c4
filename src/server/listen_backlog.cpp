#include "server/listen_backlog.h"

#include <sys/socket.h>

namespace batchwise {

WideBacklog::WideBacklog(httplib::Server& server) {
  server.set_socket_options([fd = fd_](socket_t sock) {
    httplib::default_socket_options(sock);
    *fd = sock;
  });
}

void WideBacklog::widen() const {
  if (*fd_ >= 0) ::listen(*fd_, SOMAXCONN);
}

}  // namespace batchwise
