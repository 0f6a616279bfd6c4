#include "server/batch_record.h"

#include <array>

namespace batchwise {
namespace {

constexpr std::array kStamped = {BatchStatus::kInProgress, BatchStatus::kFinalizing, BatchStatus::kCompleted,
                                 BatchStatus::kFailed,     BatchStatus::kExpired,    BatchStatus::kCancelling,
                                 BatchStatus::kCancelled};

std::string stamp_name(BatchStatus s) { return std::string(batch_status_name(s)) + "_at"; }

nlohmann::json optional_text(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(); }

}  // namespace

bool BatchRecord::move(BatchStatus to, int64_t now) {
  if (!can_move(status, to)) return false;
  status = to;
  if (to != BatchStatus::kInProgress || !stamps.contains(to)) stamps[to] = now;
  return true;
}

void BatchRecord::set_error(const std::string& code, const std::string& message) {
  errors = {{"object", "list"}, {"data", {{{"code", code}, {"message", message}, {"param", nullptr}, {"line", nullptr}}}}};
}

nlohmann::json BatchRecord::to_api() const {
  nlohmann::json j = {{"id", id},
                      {"object", "batch"},
                      {"endpoint", endpoint},
                      {"errors", errors},
                      {"input_file_id", input_file_id},
                      {"completion_window", completion_window},
                      {"status", batch_status_name(status)},
                      {"output_file_id", optional_text(output_file_id)},
                      {"error_file_id", optional_text(error_file_id)},
                      {"created_at", created_at},
                      {"expires_at", expires_at},
                      {"request_counts",
                       {{"total", request_counts.total}, {"completed", request_counts.completed}, {"failed", request_counts.failed}}},
                      {"metadata", metadata},
                      {"model", model}};
  for (BatchStatus s : kStamped) {
    const auto it = stamps.find(s);
    j[stamp_name(s)] = it == stamps.end() ? nlohmann::json() : nlohmann::json(it->second);
  }
  return j;
}

nlohmann::json BatchRecord::to_stored() const {
  nlohmann::json j = to_api();
  if (expiring) j["batchwise_expiring"] = true;
  return j;
}

Expected<BatchRecord> BatchRecord::from_stored(const nlohmann::json& doc) {
  if (!doc.is_object()) return make_error(ErrorCode::kCorrupt, "a stored batch is not a JSON object");
  const std::string what = "stored batch " + doc.value("id", std::string("?"));
  try {
    BatchRecord r;
    r.id = doc.at("id").get<std::string>();
    r.endpoint = doc.at("endpoint").get<std::string>();
    r.input_file_id = doc.at("input_file_id").get<std::string>();
    r.completion_window = doc.value("completion_window", "");
    r.model = doc.value("model", "");
    const auto status = parse_batch_status(doc.at("status").get<std::string>());
    if (!status) return make_error(ErrorCode::kCorrupt, what + ": status `" + doc["status"].get<std::string>() + "` is not OpenAI's");
    r.status = *status;
    for (auto [field, out] : {std::pair{"output_file_id", &r.output_file_id}, std::pair{"error_file_id", &r.error_file_id}}) {
      if (doc.contains(field) && doc[field].is_string()) *out = doc[field].get<std::string>();
    }
    r.created_at = doc.at("created_at").get<int64_t>();
    r.expires_at = doc.value("expires_at", int64_t{0});
    for (BatchStatus s : kStamped) {
      if (doc.contains(stamp_name(s)) && doc[stamp_name(s)].is_number_integer()) r.stamps[s] = doc[stamp_name(s)].get<int64_t>();
    }
    if (doc.contains("request_counts") && doc["request_counts"].is_object()) {
      const auto& c = doc["request_counts"];
      r.request_counts = {c.value("total", int64_t{0}), c.value("completed", int64_t{0}), c.value("failed", int64_t{0})};
    }
    r.errors = doc.value("errors", nlohmann::json());
    r.metadata = doc.value("metadata", nlohmann::json());
    r.expiring = doc.value("batchwise_expiring", false);
    return r;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kCorrupt, what + ": " + e.what());
  }
}

}  // namespace batchwise
