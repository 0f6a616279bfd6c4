// See power_loss_vfs.h. The shim's sqlite3_file holds the real (unix) file right after itself, as
// SQLite's test VFSes do; every method forwards to it, the counted ones after the power check.
#include "power_loss_vfs.h"

#include <sqlite3.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

namespace batchwise::test {
namespace {

struct Files {
  std::mutex mu;
  std::map<std::string, std::string> durable;  // path -> contents at the last xSync
  int64_t operations = 0;
  int64_t cut_at = 0;  // 0: not armed
  bool lost = false;
};
Files& files() {
  static Files f;
  return f;
}

sqlite3_vfs* real_vfs = nullptr;

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  const char* path;  // owned by SQLite for the file's lifetime; null for temporary files
};
sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }

// Counts a call that would change the disk; false when the power is (or just went) off.
bool power_on() {
  Files& f = files();
  std::lock_guard lock(f.mu);
  if (f.lost) return false;
  ++f.operations;
  if (f.cut_at > 0 && f.operations >= f.cut_at) f.lost = true;
  return !f.lost;
}

std::string read_whole(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK || size <= 0) return {};
  std::string data(static_cast<size_t>(size), '\0');
  if (real->pMethods->xRead(real, data.data(), static_cast<int>(size), 0) != SQLITE_OK) return {};
  return data;
}

int shim_close(sqlite3_file* f) {
  sqlite3_file* real = real_of(f);
  const int rc = real->pMethods ? real->pMethods->xClose(real) : SQLITE_OK;
  return rc;
}
int shim_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}
int shim_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (!power_on()) return SQLITE_IOERR_WRITE;
  return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}
int shim_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (!power_on()) return SQLITE_IOERR_TRUNCATE;
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int shim_sync(sqlite3_file* f, int /*flags*/) {
  if (!power_on()) return SQLITE_IOERR_FSYNC;
  const auto* shim = reinterpret_cast<ShimFile*>(f);
  if (shim->path) {
    std::string image = read_whole(shim->real);
    std::lock_guard lock(files().mu);
    files().durable[shim->path] = std::move(image);
  }
  return SQLITE_OK;
}
int shim_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int shim_lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
int shim_unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
int shim_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int shim_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int shim_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int shim_device(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
// The wal-index (-shm) is shared memory that SQLite rebuilds from the WAL when the first connection
// opens the database after a crash, so it passes through.
int shim_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}
int shim_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void shim_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int shim_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int shim_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, n, out);
}
int shim_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

const sqlite3_io_methods kShimMethods = {
    3,          shim_close,    shim_read,      shim_write,         shim_truncate,      shim_sync,
    shim_file_size, shim_lock, shim_unlock,    shim_check_reserved, shim_file_control, shim_sector_size,
    shim_device, shim_shm_map, shim_shm_lock,  shim_shm_barrier,   shim_shm_unmap,     shim_fetch,
    shim_unfetch,
};

int shim_open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  shim->real = reinterpret_cast<sqlite3_file*>(shim + 1);
  shim->path = name;
  shim->base.pMethods = nullptr;
  const int rc = real_vfs->xOpen(real_vfs, name, shim->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  shim->base.pMethods = &kShimMethods;
  if (name) {
    // A file first seen holds what it held before this process: that counts as durable.
    std::lock_guard lock(files().mu);
    if (!files().durable.contains(name)) files().durable[name] = read_whole(shim->real);
  }
  return SQLITE_OK;
}
int shim_delete(sqlite3_vfs* /*vfs*/, const char* name, int sync_dir) {
  if (!power_on()) return SQLITE_IOERR_DELETE;
  {
    std::lock_guard lock(files().mu);
    files().durable.erase(name);
  }
  return real_vfs->xDelete(real_vfs, name, sync_dir);
}
// The rest forward to the real VFS with its own pointer: unix's xOpen and friends read its pAppData.
int shim_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return real_vfs->xAccess(real_vfs, name, flags, out);
}
int shim_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return real_vfs->xFullPathname(real_vfs, name, n, out);
}
void* shim_dl_open(sqlite3_vfs*, const char* name) { return real_vfs->xDlOpen(real_vfs, name); }
void shim_dl_error(sqlite3_vfs*, int n, char* out) { real_vfs->xDlError(real_vfs, n, out); }
void (*shim_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) { return real_vfs->xDlSym(real_vfs, h, sym); }
void shim_dl_close(sqlite3_vfs*, void* h) { real_vfs->xDlClose(real_vfs, h); }
int shim_randomness(sqlite3_vfs*, int n, char* out) { return real_vfs->xRandomness(real_vfs, n, out); }
int shim_sleep(sqlite3_vfs*, int us) { return real_vfs->xSleep(real_vfs, us); }
int shim_current_time(sqlite3_vfs*, double* out) { return real_vfs->xCurrentTime(real_vfs, out); }
int shim_last_error(sqlite3_vfs*, int n, char* out) { return real_vfs->xGetLastError(real_vfs, n, out); }
int shim_current_time64(sqlite3_vfs*, sqlite3_int64* out) { return real_vfs->xCurrentTimeInt64(real_vfs, out); }
int shim_set_syscall(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
  return real_vfs->xSetSystemCall(real_vfs, name, p);
}
sqlite3_syscall_ptr shim_get_syscall(sqlite3_vfs*, const char* name) {
  return real_vfs->xGetSystemCall(real_vfs, name);
}
const char* shim_next_syscall(sqlite3_vfs*, const char* name) { return real_vfs->xNextSystemCall(real_vfs, name); }

sqlite3_vfs shim_vfs;

}  // namespace

PowerLossVfs& PowerLossVfs::install() {
  static PowerLossVfs instance;
  static const bool registered = [] {
    real_vfs = sqlite3_vfs_find(nullptr);
    shim_vfs = sqlite3_vfs{};
    shim_vfs.iVersion = 3;
    shim_vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + real_vfs->szOsFile;
    shim_vfs.mxPathname = real_vfs->mxPathname;
    shim_vfs.zName = kName;
    shim_vfs.xOpen = shim_open;
    shim_vfs.xDelete = shim_delete;
    shim_vfs.xAccess = shim_access;
    shim_vfs.xFullPathname = shim_full_pathname;
    shim_vfs.xDlOpen = shim_dl_open;
    shim_vfs.xDlError = shim_dl_error;
    shim_vfs.xDlSym = shim_dl_sym;
    shim_vfs.xDlClose = shim_dl_close;
    shim_vfs.xRandomness = shim_randomness;
    shim_vfs.xSleep = shim_sleep;
    shim_vfs.xCurrentTime = shim_current_time;
    shim_vfs.xGetLastError = shim_last_error;
    shim_vfs.xCurrentTimeInt64 = shim_current_time64;
    shim_vfs.xSetSystemCall = shim_set_syscall;
    shim_vfs.xGetSystemCall = shim_get_syscall;
    shim_vfs.xNextSystemCall = shim_next_syscall;
    return sqlite3_vfs_register(&shim_vfs, /*makeDflt=*/0) == SQLITE_OK;
  }();
  (void)registered;
  std::lock_guard lock(files().mu);
  files().durable.clear();
  files().operations = 0;
  files().cut_at = 0;
  files().lost = false;
  return instance;
}

void PowerLossVfs::arm(int64_t n) {
  std::lock_guard lock(files().mu);
  files().cut_at = n > 0 ? files().operations + n : 0;
}

int64_t PowerLossVfs::operations() const {
  std::lock_guard lock(files().mu);
  return files().operations;
}

bool PowerLossVfs::power_lost() const {
  std::lock_guard lock(files().mu);
  return files().lost;
}

void PowerLossVfs::restore_to_last_sync() {
  std::lock_guard lock(files().mu);
  for (const auto& [path, image] : files().durable) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
  }
  files().durable.clear();
  files().operations = 0;
  files().cut_at = 0;
  files().lost = false;
}

}  // namespace batchwise::test
