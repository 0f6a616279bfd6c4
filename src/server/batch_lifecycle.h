// A batch's status as OpenAI defines it, typed, with the moves between statuses in one table: every change of a
// batch's status in serve goes through move_batch, which refuses a move the table does not have (a cancelled
// batch never becomes completed, a finished one never runs again) and stamps the new status's `<status>_at`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace batchwise {

enum class BatchStatus { kValidating, kInProgress, kFinalizing, kCompleted, kFailed, kExpired, kCancelling, kCancelled };

std::string_view batch_status_name(BatchStatus s);  // "in_progress"
std::optional<BatchStatus> parse_batch_status(std::string_view name);
// completed, failed, expired and cancelled: nothing moves a batch on from these.
bool is_final(BatchStatus s);
bool can_move(BatchStatus from, BatchStatus to);

// The status of a batch document (nullopt: missing or not one of OpenAI's).
std::optional<BatchStatus> batch_status(const nlohmann::json& doc);
// Moves the batch document to `to` and sets `<to>_at` to `now` (in_progress_at only the first time); false, and
// the document unchanged, when the table has no such move from its status.
bool move_batch(nlohmann::json& doc, BatchStatus to, int64_t now);

}  // namespace batchwise
