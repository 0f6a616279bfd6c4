// PowerLossVfs: a test double for a fault a test cannot cause otherwise, the power going. An SQLite VFS
// that wraps the default (unix) one and remembers, per file, what the file held at its last xSync (the
// "durable image"); xSync itself records that image and skips the real fsync, as the image is what
// durability means here. After arm(n) the power goes at the n-th write/sync/truncate/delete: that call
// and every later one fails with SQLITE_IOERR (the process can no longer reach the disk, so it can
// acknowledge nothing more). restore_to_last_sync() then puts every file back to its durable image,
// which drops every write not yet synced, as SQLite's own crash tests do (test6.c). Not simulated: torn
// sector writes, and a directory entry (file creation or deletion) that was never synced.
//
// One instance, registered under kName on first use (an SQLite VFS is process-wide). Thread-safe:
// SQLite may call it from any thread.
#pragma once

#include <cstdint>

namespace batchwise::test {

class PowerLossVfs {
 public:
  static constexpr const char* kName = "batchwise_power_loss";

  // Registers the VFS (once) and returns it, disarmed, forgetting every file it saw before.
  static PowerLossVfs& install();

  // The power goes at the n-th counted call from now (1 = the next one); 0 never.
  void arm(int64_t n);
  // Counted calls (write, sync, truncate, delete) since install() or the last restore.
  int64_t operations() const;
  bool power_lost() const;
  // Call once no connection through this VFS is open: every file seen goes back to what it held at
  // its last xSync (empty when it was never synced), and the power comes back.
  void restore_to_last_sync();
};

}  // namespace batchwise::test
