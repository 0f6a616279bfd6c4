// libFuzzer target: the GGUF header reader and the checks of what llama.cpp would assert on. Any
// input must give a header or an Error: no crash, no sanitizer report, no huge allocation.
#include <cstddef>
#include <cstdint>

#include "fuzz_file.h"
#include "model/gguf_checks.h"
#include "model/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = batchwise::fuzz::write_input(data, size, ".gguf");
  for (const bool bounds : {true, false}) {
    auto header = batchwise::read_gguf_header(path, {.check_data_bounds = bounds});
    if (!header) continue;
    (void)batchwise::check_llama_loadable(*header);
    (void)header->tensor_bytes();
    (void)header->get_int("llama.block_count");
    (void)header->get_float("llama.rope.freq_base");
  }
  return 0;
}
