// BatchService's Files part: uploads checked as batch files and kept in the state folder, their metadata, and the
// bytes of an upload or of a batch's output and error files (live from the batch's state while it runs).
#include <filesystem>

#include "core/clock.h"
#include "core/files.h"
#include "job/batch_input.h"
#include "server/api_object.h"
#include "server/batch_service.h"
#include "server/ids.h"

namespace batchwise {
namespace {

// The `model` of the first valid line: a batch runs on one model, as OpenAI's do.
std::string first_model(const std::filesystem::path& path, const BatchInput& input) {
  auto reader = BatchReader::open(path);
  if (!reader || input.requests.empty()) return "";
  auto request = reader->read(input.requests.front());
  if (!request) return "";
  const auto it = request->body.find("model");
  return it != request->body.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Expected<nlohmann::json> BatchService::create_file(const std::string& filename, const std::string& purpose,
                                                   const std::string& content) {
  if (purpose != "batch") {
    return make_error(ErrorCode::kInvalidArgument, "purpose `" + purpose + "`: this server takes files with purpose `batch`");
  }
  const std::string id = new_file_id();
  const auto path = store_->file_path(id);
  BW_TRY(write_file_atomic(path, content));
  auto input = scan_batch_input(path);
  if (!input || input->requests.empty()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    const std::string why = !input ? input.error().message
                            : input->errors.empty() ? "the file is empty"
                                                    : input->errors.front().message;
    return make_error(ErrorCode::kInvalidArgument, "`" + filename + "` holds no valid batch request line: " + why);
  }
  nlohmann::json doc = {{"id", id},
                        {"object", "file"},
                        {"bytes", content.size()},
                        {"created_at", unix_time_s()},
                        {"filename", filename},
                        {"purpose", "batch"},
                        {"status", "processed"},
                        {"status_details", nullptr},
                        {"batchwise_model", first_model(path, *input)},
                        {"batchwise_invalid_lines", input->errors.size()}};
  BW_TRY(store_->put("file", id, doc));
  {
    std::lock_guard lock(mu_);
    recent_scans_.emplace_back(id, std::make_shared<const BatchInput>(std::move(*input)));
    if (recent_scans_.size() > kRecentScans) recent_scans_.pop_front();
  }
  return public_view(doc);
}

Expected<nlohmann::json> BatchService::get_file(const std::string& id) {
  if (!is_file_id(id)) return std::unexpected(not_found("file", id));
  BW_ASSIGN_OR_RETURN(auto doc, store_->get("file", id));
  if (!doc) return std::unexpected(not_found("file", id));
  return public_view(*doc);
}

Expected<nlohmann::json> BatchService::list_files(size_t limit, const std::string& after) {
  BW_ASSIGN_OR_RETURN(auto docs, store_->list("file", limit + 1, after));
  return list_object(std::move(docs), limit);
}

Expected<std::unique_ptr<FileDownload>> BatchService::file_content(const std::string& id) {
  if (!is_file_id(id)) return std::unexpected(not_found("file", id));
  BW_ASSIGN_OR_RETURN(auto doc, store_->get("file", id));
  if (!doc) return std::unexpected(not_found("file", id));
  const std::string batch_id = doc->value("batchwise_batch", "");
  if (batch_id.empty()) return FileDownload::of_file(store_->file_path(id));
  const bool errors = doc->value("batchwise_part", "") == "errors";
  bool live = false;
  {
    std::lock_guard lock(mu_);
    live = live_.contains(batch_id);
  }
  const auto dir = store_->batch_dir(batch_id);
  // The results committed so far, from the state database on disk, not through the job: its store's
  // connection belongs to the runner thread. The state stays after the batch ends, so a download that
  // began while it ran can page on to its end.
  if (live) return FileDownload::of_results(dir / "state.db", errors);
  const auto path = dir / (errors ? "errors.jsonl" : "output.jsonl");
  if (!std::filesystem::exists(path)) return FileDownload::empty();
  return FileDownload::of_file(path);
}

Expected<nlohmann::json> BatchService::delete_file(const std::string& id) {
  if (!is_file_id(id)) return std::unexpected(not_found("file", id));
  BW_ASSIGN_OR_RETURN(auto doc, store_->get("file", id));
  if (!doc) return std::unexpected(not_found("file", id));
  BW_TRY(store_->remove("file", id));
  {
    std::lock_guard lock(mu_);
    std::erase_if(recent_scans_, [&](const auto& scan) { return scan.first == id; });
  }
  std::error_code ec;
  std::filesystem::remove(store_->file_path(id), ec);
  return nlohmann::json{{"id", id}, {"object", "file"}, {"deleted", true}};
}

}  // namespace batchwise
