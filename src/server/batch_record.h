// BatchRecord: a batch as serve keeps it, typed: OpenAI's batch object (its status a BatchStatus, each move
// through the lifecycle's table stamping its `<status>_at`) plus the server's own state. It is stored as the
// OpenAI-shaped JSON document the Batch API returns, with the server's own fields prefixed `batchwise_` (never
// shown to a client), so a state folder written by an earlier serve loads as it was.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/status.h"
#include "server/batch_lifecycle.h"

namespace batchwise {

struct RequestCounts {
  int64_t total = 0, completed = 0, failed = 0;
  bool operator==(const RequestCounts&) const = default;
};

struct BatchRecord {
  std::string id;
  std::string endpoint;           // a batch line's url: /v1/chat/completions, /v1/responses, ...
  std::string input_file_id;
  std::string completion_window;  // as the client gave it ("24h")
  std::string model;              // the model it runs on ("" until known)
  BatchStatus status = BatchStatus::kValidating;
  std::optional<std::string> output_file_id, error_file_id;
  int64_t created_at = 0, expires_at = 0;
  std::map<BatchStatus, int64_t> stamps;  // when it entered each status it went through (validating: created_at)
  RequestCounts request_counts;
  nlohmann::json errors;    // null, or OpenAI's {"object": "list", "data": [...]}
  nlohmann::json metadata;  // null, or the client's string map
  bool expiring = false;    // past its completion window: stopping, to end `expired` (the server's own)

  // To `to` when the lifecycle's table has the move, stamping `<to>_at` with `now` (in_progress_at only the first
  // time); false, and the record unchanged, when it has not.
  bool move(BatchStatus to, int64_t now);
  bool unfinished() const { return !is_final(status); }
  // OpenAI's errors list with one entry.
  void set_error(const std::string& code, const std::string& message);

  nlohmann::json to_api() const;     // the object the Batch API returns
  nlohmann::json to_stored() const;  // what the store keeps: the API object and the server's own fields
  // A stored document; an error names what is missing or of the wrong type.
  static Expected<BatchRecord> from_stored(const nlohmann::json& doc);
};

}  // namespace batchwise
