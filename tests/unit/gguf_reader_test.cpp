// The GGUF header reader on real files (what synth writes and llama.cpp loads) and on hostile ones:
// every truncation and every lie in a count, length, type or offset is an Error, never a crash.
#include "model/gguf_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gguf.h"
#include "model/synth.h"
#include "test_support.h"

namespace batchwise {
namespace {

// Little-endian GGUF bytes, written by hand so each field can lie.
class Bytes {
 public:
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& i64(int64_t v) { return raw(&v, 8); }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s.data(), s.size()); }
  Bytes& raw(const void* p, size_t n) {
    data.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string data;
};

// A valid header: 1 key (general.architecture = "llama"), 1 f16 tensor 32x2 at offset 0, its data.
Bytes valid_file() {
  Bytes b;
  b.raw("GGUF", 4).u32(3).u64(1).u64(1);
  b.str("general.architecture").u32(8).str("llama");
  b.str("blk.0.attn_q.weight").u32(2).i64(32).i64(2).u32(1).u64(0);
  while (b.data.size() % 32) b.data.push_back('\0');
  b.data.append(32 * 2 * 2, '\0');
  return b;
}

TEST(GgufReader, ReadsTheHandWrittenFile) {
  auto h = read_gguf_header(test::write_gguf(valid_file().data));
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->get_string("general.architecture"), "llama");
  ASSERT_EQ(h->tensors.size(), 1u);
  EXPECT_EQ(h->tensors[0].bytes, 32 * 2 * 2);
  EXPECT_EQ(h->bytes_by_type().at("f16"), 128);
}

TEST(GgufReader, AgreesWithGgmlOnASynthModel) {
  auto spec = find_preset("tiny");
  ASSERT_TRUE(spec);
  spec->n_embd = 256;  // q4_k rows
  SynthOptions options;
  options.spec = *spec;
  options.quant = SynthQuant::kQ4_K_M;
  options.output = test::scratch_dir() / "tiny-q4.gguf";
  ASSERT_TRUE(synth_model(options));
  auto h = read_gguf_header(options.output);
  ASSERT_TRUE(h) << h.error().message;

  gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context* g = gguf_init_from_file(options.output.c_str(), params);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(static_cast<int64_t>(h->tensors.size()), gguf_get_n_tensors(g));
  int64_t ggml_bytes = 0;
  for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
    ggml_bytes += static_cast<int64_t>(gguf_get_tensor_size(g, i));
    EXPECT_EQ(h->tensors[i].name, gguf_get_tensor_name(g, i));
    EXPECT_EQ(h->tensors[i].type_id, static_cast<int>(gguf_get_tensor_type(g, i)));
    EXPECT_EQ(h->tensors[i].offset_bytes, gguf_get_tensor_offset(g, i));
  }
  EXPECT_EQ(h->tensor_bytes(), ggml_bytes);
  EXPECT_EQ(h->data_offset_bytes, gguf_get_data_offset(g));
  EXPECT_EQ(h->get_int("llama.block_count"), spec->n_layer);
  EXPECT_GT(h->bytes_by_type().count("q4_k"), 0u);
  EXPECT_GT(h->find("tokenizer.ggml.tokens")->array_count, 100000u) << "the vocabulary's length is kept";
  gguf_free(g);
}

TEST(GgufReader, EveryTruncationIsAnErrorNotACrash) {
  const std::string full = valid_file().data;
  for (size_t n = 0; n < full.size(); n += (n < 200 ? 1 : 7)) {
    auto h = read_gguf_header(test::write_gguf(full.substr(0, n), "t.gguf"));
    EXPECT_FALSE(h) << "prefix of " << n << " bytes";
    if (!h) {
      EXPECT_TRUE(h.error().code == ErrorCode::kCorrupt) << h.error().message;
    }
  }
}

struct Hostile {
  const char* what;
  Bytes bytes;
};

TEST(GgufReader, LiesInTheHeaderAreRejectedBeforeAllocating) {
  std::vector<Hostile> cases;
  cases.push_back({"bad magic", Bytes().raw("GGML", 4).u32(3).u64(0).u64(0)});
  cases.push_back({"huge key count", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(uint64_t{1} << 62)});
  cases.push_back({"huge tensor count", Bytes().raw("GGUF", 4).u32(3).u64(uint64_t{1} << 62).u64(0)});
  cases.push_back({"huge string length", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).u64(uint64_t{1} << 60)});
  cases.push_back({"bad value type", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(99).u32(0)});
  cases.push_back({"huge array", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(9).u32(4).u64(uint64_t{1} << 61)});
  cases.push_back({"huge string array", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(9).u32(8).u64(uint64_t{1} << 40)});
  cases.push_back({"nested array", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(9).u32(9).u64(1).u64(0)});
  cases.push_back({"duplicate key", Bytes().raw("GGUF", 4).u32(3).u64(0).u64(2).str("k").u32(4).u32(1).str("k").u32(4).u32(2)});
  auto tensor = [](uint32_t n_dims, std::vector<int64_t> dims, uint32_t type, uint64_t offset) {
    Bytes b;
    b.raw("GGUF", 4).u32(3).u64(1).u64(0).str("t");
    b.u32(n_dims);
    for (int64_t d : dims) b.i64(d);
    b.u32(type).u64(offset);
    b.data.append(64, '\0');
    return b;
  };
  cases.push_back({"five dimensions", tensor(5, {1, 1, 1, 1, 1}, 0, 0)});
  cases.push_back({"negative dimension", tensor(1, {-32}, 0, 0)});
  cases.push_back({"overflowing shape", tensor(4, {1 << 30, 1 << 30, 1 << 30, 1 << 30}, 0, 0)});
  cases.push_back({"unknown type id", tensor(1, {32}, 4, 0)});
  cases.push_back({"type id past the table", tensor(1, {32}, 1000000, 0)});
  cases.push_back({"row not a whole block", tensor(1, {33}, 8, 0)});
  cases.push_back({"unaligned offset", tensor(1, {4}, 0, 3)});
  cases.push_back({"data past the end", tensor(2, {32, 1 << 20}, 0, 0)});
  cases.push_back({"offset past the end", tensor(1, {4}, 0, uint64_t{1} << 40)});
  for (const auto& c : cases) {
    auto h = read_gguf_header(test::write_gguf(c.bytes.data, "h.gguf"));
    EXPECT_FALSE(h) << c.what;
    if (!h) {
      EXPECT_TRUE(h.error().code == ErrorCode::kCorrupt) << c.what << ": " << h.error().message;
    }
  }
}

TEST(GgufReader, OldAndForeignVersionsAreUnsupported) {
  for (uint32_t version : {1u, 0x03000000u}) {  // v1 used 32-bit counts; a big-endian file reads as 0x03000000
    auto h = read_gguf_header(test::write_gguf(Bytes().raw("GGUF", 4).u32(version).u64(0).u64(0).data));
    ASSERT_FALSE(h);
    EXPECT_TRUE(h.error().code == ErrorCode::kUnsupported) << h.error().message;
  }
}

TEST(GgufReader, MissingFileIsNotFound) {
  auto h = read_gguf_header(test::scratch_dir() / "absent.gguf");
  ASSERT_FALSE(h);
  EXPECT_TRUE(h.error().code == ErrorCode::kNotFound);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// A small fuzz pass: random byte flips in a real header (magic and counts included) must give a
// header or an Error, never a crash or a runaway allocation.
TEST(GgufReader, RandomCorruptionNeverCrashes) {
  const std::string full = valid_file().data;
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  int errors = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string bytes = full;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int f = 0; f < flips; ++f) bytes[next() % 160] = static_cast<char>(next());
    auto h = read_gguf_header(test::write_gguf(bytes, "fuzz.gguf"));
    errors += h ? 0 : 1;
  }
  EXPECT_GT(errors, 500) << "most corruptions are detected";
}

}  // namespace
}  // namespace batchwise
