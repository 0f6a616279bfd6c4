#include "job/batch_output.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/files.h"

namespace batchwise {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

class AtomicWriter {
 public:
  static Expected<AtomicWriter> create(const std::filesystem::path& path) {
    const std::string tmp = path.string() + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return make_error(ErrorCode::kIo, "cannot create " + tmp);
    return AtomicWriter(path, tmp, f);
  }
  bool write(const std::string& line) {
    return std::fwrite(line.data(), 1, line.size(), file_.get()) == line.size() && std::fputc('\n', file_.get()) != EOF;
  }
  Status commit() {
    if (std::fflush(file_.get()) != 0 || ::fsync(fileno(file_.get())) != 0) {
      return make_error(ErrorCode::kIo, "cannot write " + tmp_ + " (disk full?)");
    }
    file_.reset();
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return make_error(ErrorCode::kIo, "cannot rename " + tmp_);
    return {};
  }

 private:
  AtomicWriter(std::filesystem::path path, std::string tmp, std::FILE* f)
      : path_(std::move(path)), tmp_(std::move(tmp)), file_(f) {}
  std::filesystem::path path_;
  std::string tmp_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

}  // namespace

std::string format_output_line(const ResultRecord& r) {
  const std::string request_id = "req_" + hex64(fnv1a64(r.custom_id) ^ static_cast<uint64_t>(r.line)).substr(0, 12);
  nlohmann::json line = {{"id", "batch_req_" + std::to_string(r.line)}, {"custom_id", r.custom_id}};
  if (r.ok) {
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    line["response"] = {{"status_code", r.status_code}, {"request_id", request_id}, {"body", body}};
    line["error"] = nullptr;
  } else {
    line["response"] = nullptr;
    line["error"] = {{"code", r.error_code}, {"message", r.error_message}};
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::filesystem::path default_error_path(const std::filesystem::path& output) {
  std::string s = output.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s + ".errors.jsonl";
}

Expected<WrittenFiles> write_output_files(JobStore& store, const std::filesystem::path& output,
                                          const std::filesystem::path& errors) {
  BW_ASSIGN_OR_RETURN(AtomicWriter out, AtomicWriter::create(output));
  BW_ASSIGN_OR_RETURN(AtomicWriter err, AtomicWriter::create(errors));
  WrittenFiles counts;
  bool write_failed = false;
  BW_TRY(store.for_each_result([&](const ResultRecord& r) {
    const bool written = (r.ok ? out : err).write(format_output_line(r));
    write_failed = write_failed || !written;
    (r.ok ? counts.ok : counts.failed)++;
  }));
  if (write_failed) return make_error(ErrorCode::kIo, "cannot write " + output.string() + " (disk full?)");
  BW_TRY(out.commit());
  BW_TRY(err.commit());
  return counts;
}

Expected<WrittenFiles> write_result_files(const NextResult& next, const std::filesystem::path& output,
                                          const std::filesystem::path& errors) {
  BW_ASSIGN_OR_RETURN(AtomicWriter out, AtomicWriter::create(output));
  BW_ASSIGN_OR_RETURN(AtomicWriter err, AtomicWriter::create(errors));
  WrittenFiles counts;
  ResultRecord r;
  while (true) {
    BW_ASSIGN_OR_RETURN(const bool more, next(r));
    if (!more) break;
    if (!(r.ok ? out : err).write(format_output_line(r))) {
      return make_error(ErrorCode::kIo, "cannot write " + (r.ok ? output : errors).string() + " (disk full?)");
    }
    (r.ok ? counts.ok : counts.failed)++;
  }
  BW_TRY(out.commit());
  BW_TRY(err.commit());
  return counts;
}

}  // namespace batchwise
