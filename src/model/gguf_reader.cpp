#include "model/gguf_reader.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <unordered_set>

#include "core/files.h"

#include "model/weight_types.h"

namespace batchwise {
namespace {

constexpr uint64_t kMaxKeptString = 16u << 20;      // longer strings (never seen in real files) are refused
constexpr uint64_t kMaxKeptArray = 65536;            // numeric arrays up to this are kept
constexpr uint64_t kMaxTensors = 1u << 20;           // more than any real model by 100x
constexpr uint64_t kMaxKeys = 1u << 20;
constexpr int kMaxDims = 4;                          // GGML_MAX_DIMS

enum GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9,
  kU64 = 10, kI64 = 11, kF64 = 12, kTypeCount = 13,
};

// A float metadata value as an integer; NaN, infinities and values past int64 give 0 (a cast
// would be undefined behaviour).
int64_t float_to_int(double d) { return d >= -9.0e18 && d <= 9.0e18 ? static_cast<int64_t>(d) : 0; }

// Fixed size of a scalar type, 0 for string/array.
uint64_t scalar_size(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// Reads little-endian values from a file, refusing to go past its end.
class Cursor {
 public:
  Cursor(std::FILE* f, uint64_t size) : f_(f), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Error corrupt(const std::string& what) const {
    return Error{ErrorCode::kCorrupt, "GGUF header at byte " + std::to_string(pos_) + ": " + what};
  }

  Status read(void* dst, uint64_t n) {
    if (n > remaining()) return std::unexpected(corrupt("file ends early (truncated)"));
    // One thread reads the file: stdio's lock on every small read is not needed.
    if (n > 0 && fread_unlocked(dst, 1, n, f_) != n) return std::unexpected(corrupt("read failed"));
    pos_ += n;
    return {};
  }
  Status skip(uint64_t n) {
    if (n > remaining()) return std::unexpected(corrupt("file ends early (truncated)"));
    if (std::fseek(f_, static_cast<long>(pos_ + n), SEEK_SET) != 0) return std::unexpected(corrupt("seek failed"));
    pos_ += n;
    return {};
  }
  // Reads a length-prefixed string in pieces through the buffer (no allocation of its length; a seek would
  // drop the buffer) and gives its FNV-1a hash, or 0 when `hash` is false (passing over it). 0 for an empty
  // string too (llama.cpp renames empty tokens, so they never collide).
  Expected<uint64_t> string_hash(bool hash = true) {
    BW_ASSIGN_OR_RETURN(uint64_t n, get<uint64_t>());
    if (n > remaining()) return std::unexpected(corrupt("string of " + std::to_string(n) + " bytes past the end"));
    if (n == 0) return uint64_t{0};
    uint64_t value = 0xcbf29ce484222325ULL;
    char buf[4096];
    while (n > 0) {
      const uint64_t k = std::min<uint64_t>(n, sizeof buf);
      BW_TRY(read(buf, k));
      if (hash) value = fnv1a64(std::string_view(buf, k), value);
      n -= k;
    }
    return hash ? value : 0;
  }
  template <class T>
  Expected<T> get() {
    T v{};
    BW_TRY(read(&v, sizeof v));
    return v;
  }
  // A length-prefixed string; `keep` false skips its bytes.
  Expected<std::string> string(bool keep = true) {
    BW_ASSIGN_OR_RETURN(uint64_t n, get<uint64_t>());
    if (n > remaining()) return std::unexpected(corrupt("string of " + std::to_string(n) + " bytes past the end"));
    if (!keep) {
      BW_TRY(skip(n));
      return std::string();
    }
    if (n > kMaxKeptString) return std::unexpected(corrupt("string of " + std::to_string(n) + " bytes is too long"));
    std::string s(n, '\0');
    BW_TRY(read(s.data(), n));
    return s;
  }

 private:
  std::FILE* f_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Expected<double> read_number(Cursor& c, uint32_t t, int64_t* as_int) {
  double d = 0;
  int64_t i = 0;
  switch (t) {
    case kU8: { BW_ASSIGN_OR_RETURN(uint8_t v, c.get<uint8_t>()); i = v; d = v; break; }
    case kI8: { BW_ASSIGN_OR_RETURN(int8_t v, c.get<int8_t>()); i = v; d = v; break; }
    case kU16: { BW_ASSIGN_OR_RETURN(uint16_t v, c.get<uint16_t>()); i = v; d = v; break; }
    case kI16: { BW_ASSIGN_OR_RETURN(int16_t v, c.get<int16_t>()); i = v; d = v; break; }
    case kU32: { BW_ASSIGN_OR_RETURN(uint32_t v, c.get<uint32_t>()); i = v; d = v; break; }
    case kI32: { BW_ASSIGN_OR_RETURN(int32_t v, c.get<int32_t>()); i = v; d = v; break; }
    case kU64: {
      BW_ASSIGN_OR_RETURN(uint64_t v, c.get<uint64_t>());
      i = v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                         : static_cast<int64_t>(v);
      d = static_cast<double>(v);
      break;
    }
    case kI64: { BW_ASSIGN_OR_RETURN(int64_t v, c.get<int64_t>()); i = v; d = static_cast<double>(v); break; }
    case kF32: { BW_ASSIGN_OR_RETURN(float v, c.get<float>()); d = v; i = float_to_int(d); break; }
    case kF64: { BW_ASSIGN_OR_RETURN(double v, c.get<double>()); d = v; i = float_to_int(d); break; }
    case kBool: { BW_ASSIGN_OR_RETURN(uint8_t v, c.get<uint8_t>()); i = v ? 1 : 0; d = i; break; }
    default: return std::unexpected(c.corrupt("bad value type " + std::to_string(t)));
  }
  if (as_int) *as_int = i;
  return d;
}

// `find_duplicates`: a string array's strings are hashed to note a string twice (only the vocabulary
// needs it; the merges, ~280k strings, are just passed over).
Expected<GgufValue> read_value(Cursor& c, uint32_t type, bool find_duplicates) {
  GgufValue v;
  if (type >= kTypeCount) return std::unexpected(c.corrupt("bad value type " + std::to_string(type)));
  if (type == kString) {
    v.kind = GgufValue::Kind::kString;
    BW_ASSIGN_OR_RETURN(v.string_value, c.string());
    return v;
  }
  if (type == kArray) {
    v.kind = GgufValue::Kind::kArray;
    BW_ASSIGN_OR_RETURN(uint32_t elem, c.get<uint32_t>());
    BW_ASSIGN_OR_RETURN(uint64_t n, c.get<uint64_t>());
    if (elem >= kTypeCount || elem == kArray) {
      return std::unexpected(c.corrupt("bad array element type " + std::to_string(elem)));
    }
    v.array_count = n;
    if (elem == kString) {
      // Each string takes at least its 8-byte length: a count above remaining/8 cannot be real.
      if (n > c.remaining() / 8) return std::unexpected(c.corrupt("array of " + std::to_string(n) + " strings past the end"));
      if (!find_duplicates) {
        for (uint64_t i = 0; i < n; ++i) BW_TRY(c.string_hash(/*hash=*/false));
        return v;
      }
      // Hashes, not the strings: llama.cpp aborts on a vocabulary with a token twice
      // (id_to_token.size() == token_to_id.size()), so duplicates are noted for check_llama_loadable.
      std::unordered_set<uint64_t> seen;
      seen.reserve(n);
      for (uint64_t i = 0; i < n; ++i) {
        BW_ASSIGN_OR_RETURN(uint64_t hash, c.string_hash());
        if (hash != 0 && !seen.insert(hash).second) v.duplicate_strings = true;
      }
      return v;
    }
    const uint64_t size = scalar_size(elem);
    if (n > c.remaining() / size) return std::unexpected(c.corrupt("array of " + std::to_string(n) + " values past the end"));
    if (n > kMaxKeptArray) {
      BW_TRY(c.skip(n * size));
      return v;
    }
    v.array_numbers.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      BW_ASSIGN_OR_RETURN(double d, read_number(c, elem, nullptr));
      v.array_numbers.push_back(d);
    }
    return v;
  }
  BW_ASSIGN_OR_RETURN(double d, read_number(c, type, &v.int_value));
  v.float_value = d;
  v.kind = type == kBool ? GgufValue::Kind::kBool : (type == kF32 || type == kF64) ? GgufValue::Kind::kFloat
                                                                                   : GgufValue::Kind::kInt;
  v.bool_value = v.int_value != 0;
  return v;
}

Expected<GgufTensorInfo> read_tensor_info(Cursor& c) {
  GgufTensorInfo t;
  BW_ASSIGN_OR_RETURN(t.name, c.string());
  if (t.name.empty() || t.name.size() > 256) return std::unexpected(c.corrupt("tensor name of " + std::to_string(t.name.size()) + " bytes"));
  BW_ASSIGN_OR_RETURN(uint32_t n_dims, c.get<uint32_t>());
  if (n_dims < 1 || n_dims > kMaxDims) {
    return std::unexpected(c.corrupt("tensor `" + t.name + "` has " + std::to_string(n_dims) + " dimensions"));
  }
  int64_t elements = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    BW_ASSIGN_OR_RETURN(int64_t d, c.get<int64_t>());
    if (d < 0 || (d > 0 && elements > std::numeric_limits<int64_t>::max() / d)) {
      return std::unexpected(c.corrupt("tensor `" + t.name + "` has an impossible shape"));
    }
    elements *= d;
    t.dims.push_back(d);
  }
  BW_ASSIGN_OR_RETURN(uint32_t type_id, c.get<uint32_t>());
  const WeightType* type = weight_type_by_id(type_id);
  if (!type) return std::unexpected(c.corrupt("tensor `" + t.name + "` has unknown type id " + std::to_string(type_id)));
  t.type_id = static_cast<int>(type_id);
  if (t.dims[0] % type->block_weights != 0) {
    return std::unexpected(c.corrupt("tensor `" + t.name + "` rows of " + std::to_string(t.dims[0]) +
                                     " values do not fill " + std::string(type->name) + " blocks"));
  }
  if (elements / type->block_weights > std::numeric_limits<int64_t>::max() / type->block_bytes) {
    return std::unexpected(c.corrupt("tensor `" + t.name + "` is impossibly large"));
  }
  t.bytes = elements / type->block_weights * type->block_bytes;
  BW_ASSIGN_OR_RETURN(t.offset_bytes, c.get<uint64_t>());
  return t;
}

}  // namespace

int64_t GgufTensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t GgufHeader::tensor_bytes() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.bytes;
  return n;
}

std::map<std::string, int64_t> GgufHeader::bytes_by_type() const {
  std::map<std::string, int64_t> out;
  for (const auto& t : tensors) out[std::string(weight_type_by_id(t.type_id)->name)] += t.bytes;
  return out;
}

const GgufValue* GgufHeader::find(const std::string& key) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

std::optional<int64_t> GgufHeader::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->kind == GgufValue::Kind::kArray) {
    if (v->array_numbers.empty()) return std::nullopt;
    return float_to_int(v->array_numbers[0]);
  }
  if (v->kind == GgufValue::Kind::kString) return std::nullopt;
  return v->int_value;
}

std::optional<double> GgufHeader::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || v->kind == GgufValue::Kind::kString || v->kind == GgufValue::Kind::kArray) return std::nullopt;
  return v->kind == GgufValue::Kind::kFloat ? v->float_value : static_cast<double>(v->int_value);
}

std::optional<std::string> GgufHeader::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || v->kind != GgufValue::Kind::kString) return std::nullopt;
  return v->string_value;
}

Expected<GgufHeader> read_gguf_header(const std::filesystem::path& path, const GgufReadOptions& options) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kNotFound, "cannot read " + path.string() + ": " + ec.message());
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) return make_error(ErrorCode::kIo, "cannot open " + path.string());
  // The header is read in small pieces (a vocabulary is ~400k strings): a 1 MiB buffer, not stdio's 4 KiB.
  std::setvbuf(file.get(), nullptr, _IOFBF, 1u << 20);
  Cursor c(file.get(), size);
  auto fail = [&](const Error& e) { return std::unexpected(e.with_context(path.string())); };

  GgufHeader h;
  h.file_bytes = size;
  char magic[4];
  if (auto s = c.read(magic, 4); !s) return fail(s.error());
  if (std::memcmp(magic, "GGUF", 4) != 0) return fail(c.corrupt("not a GGUF file (no GGUF magic)"));
  auto version = c.get<uint32_t>();
  if (!version) return fail(version.error());
  if (*version != 2 && *version != 3) {
    return fail(Error{ErrorCode::kUnsupported, "GGUF version " + std::to_string(*version) +
                                                   " (batchwise reads versions 2 and 3, little-endian)"});
  }
  h.version = *version;
  auto n_tensors = c.get<uint64_t>();
  auto n_kv = c.get<uint64_t>();
  if (!n_tensors) return fail(n_tensors.error());
  if (!n_kv) return fail(n_kv.error());
  // A key/value takes at least 13 bytes and a tensor info 32: larger counts than the file can hold are lies.
  if (*n_kv > kMaxKeys || *n_kv > c.remaining() / 13) return fail(c.corrupt(std::to_string(*n_kv) + " metadata keys cannot fit"));
  if (*n_tensors > kMaxTensors || *n_tensors > c.remaining() / 32) {
    return fail(c.corrupt(std::to_string(*n_tensors) + " tensors cannot fit"));
  }
  for (uint64_t i = 0; i < *n_kv; ++i) {
    auto key = c.string();
    if (!key) return fail(key.error());
    auto type = c.get<uint32_t>();
    if (!type) return fail(type.error());
    auto value = read_value(c, *type, *key == "tokenizer.ggml.tokens");
    if (!value) return fail(value.error().with_context("key `" + *key + "`"));
    if (!h.metadata.emplace(*key, std::move(*value)).second) return fail(c.corrupt("duplicate key `" + *key + "`"));
  }
  if (auto a = h.get_int("general.alignment")) {
    if (*a <= 0 || *a > (1 << 20) || (*a & (*a - 1)) != 0) return fail(c.corrupt("general.alignment " + std::to_string(*a) + " is not a power of two"));
    h.alignment_bytes = static_cast<uint64_t>(*a);
  }
  std::set<std::string> names;
  for (uint64_t i = 0; i < *n_tensors; ++i) {
    auto t = read_tensor_info(c);
    if (!t) return fail(t.error());
    if (!names.insert(t->name).second) return fail(c.corrupt("duplicate tensor `" + t->name + "`"));
    if (t->offset_bytes % h.alignment_bytes != 0) return fail(c.corrupt("tensor `" + t->name + "` offset is not aligned"));
    h.tensors.push_back(std::move(*t));
  }
  h.data_offset_bytes = (c.pos() + h.alignment_bytes - 1) / h.alignment_bytes * h.alignment_bytes;
  if (options.check_data_bounds) {
    for (const auto& t : h.tensors) {
      const uint64_t room = size > h.data_offset_bytes ? size - h.data_offset_bytes : 0;
      if (t.offset_bytes > room || static_cast<uint64_t>(t.bytes) > room - t.offset_bytes) {
        return fail(c.corrupt("tensor `" + t.name + "` data lies past the end of the file"));
      }
    }
  }
  return h;
}

}  // namespace batchwise
