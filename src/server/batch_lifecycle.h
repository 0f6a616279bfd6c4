// A batch's status as OpenAI defines it, typed, with the moves between statuses in one table: every change of a
// batch's status in serve goes through BatchRecord::move (batch_record.h), which refuses a move the table does not
// have (a cancelled batch never becomes completed, a finished one never runs again).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace batchwise {

enum class BatchStatus { kValidating, kInProgress, kFinalizing, kCompleted, kFailed, kExpired, kCancelling, kCancelled };

std::string_view batch_status_name(BatchStatus s);  // "in_progress"
std::optional<BatchStatus> parse_batch_status(std::string_view name);
// completed, failed, expired and cancelled: nothing moves a batch on from these.
bool is_final(BatchStatus s);
bool can_move(BatchStatus from, BatchStatus to);

}  // namespace batchwise
