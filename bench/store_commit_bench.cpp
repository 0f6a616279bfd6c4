// Results made durable per second by the JobStore: group commit (the default: one transaction per
// 50 ms or 1,024 results) against one transaction per result, in one run on the same disk.
// Usage: store_commit_bench [DIR] [RESULTS]
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/clock.h"
#include "job/job_store.h"

using namespace batchwise;

namespace {

double results_per_s(const std::filesystem::path& db, StoreOptions options, int n) {
  std::filesystem::remove(db);
  std::filesystem::remove(db.string() + "-wal");
  std::filesystem::remove(db.string() + "-shm");
  auto store = JobStore::open(db, options);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    std::exit(3);
  }
  const std::string body(600, 'x');  // about the size of a short chat completion body
  const double start = now_s();
  for (int i = 0; i < n; ++i) {
    ResultRecord r;
    r.line = i + 1;
    r.custom_id = "req-" + std::to_string(i);
    r.ok = true;
    r.status_code = 200;
    r.body = body;
    (*store)->append(std::move(r));
  }
  if (!(*store)->flush()) std::exit(3);
  return n / (now_s() - start);
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path();
  const int n = argc > 2 ? std::stoi(argv[2]) : 20000;
  const double grouped = results_per_s(dir / "bench-grouped.db", StoreOptions{}, n);
  const double single = results_per_s(dir / "bench-single.db", StoreOptions{0, 1}, std::min(n, 2000));
  std::printf("{\"results\": %d, \"group_commit_results_per_s\": %.0f, \"one_transaction_per_result_results_per_s\": "
              "%.0f, \"ratio\": %.1f}\n",
              n, grouped, single, grouped / single);
  return 0;
}
