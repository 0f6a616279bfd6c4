// For fuzz targets whose code under test reads a file by path (the GGUF reader, the batch scanner):
// the input is written to one scratch file per process, in /dev/shm where it exists, and read back.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

namespace batchwise::fuzz {

// The scratch file, removed when the fuzzer exits (its time limit ends with exit(), which runs this).
struct ScratchFile {
  std::filesystem::path path;
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

inline std::filesystem::path write_input(const uint8_t* data, size_t size, const char* suffix) {
  static const ScratchFile scratch{[&] {
    const std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    return dir / ("batchwise-fuzz-" + std::to_string(::getpid()) + suffix);
  }()};
  std::FILE* f = std::fopen(scratch.path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return scratch.path;
}

}  // namespace batchwise::fuzz
