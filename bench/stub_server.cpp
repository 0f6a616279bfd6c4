// A stand-alone instant OpenAI-compatible stub (the tests' StubOpenAiServer) for bench/http_dispatch.sh:
// prints its URL on stdout, then serves until killed.
//   stub_server [THREADS] [DELAY_MS]
#include <cstdio>
#include <cstdlib>

#include "stub_openai_server.h"

int main(int argc, char** argv) {
  batchwise::test::StubBehavior behavior;
  behavior.record_events = false;
  const int threads = argc > 1 ? std::atoi(argv[1]) : 160;
  if (argc > 2) behavior.delay_ms = std::atof(argv[2]);
  auto server = batchwise::test::StubOpenAiServer::start(behavior, threads);
  if (!server) {
    std::fprintf(stderr, "stub_server: cannot bind 127.0.0.1\n");
    return 1;
  }
  std::printf("%s\n", server->url().c_str());
  std::fflush(stdout);
  server->wait();
  return 0;
}
