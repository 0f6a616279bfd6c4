// For fuzz targets whose code under test reads a file by path (the GGUF reader, the batch scanner):
// the input is written to one scratch file per process, in /dev/shm where it exists, and read back.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace batchwise::fuzz {

inline std::filesystem::path write_input(const uint8_t* data, size_t size, const char* suffix) {
  static const std::filesystem::path path = [&] {
    const std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    return dir / ("batchwise-fuzz-" + std::to_string(::getpid()) + suffix);
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace batchwise::fuzz
