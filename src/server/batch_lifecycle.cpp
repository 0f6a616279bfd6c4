#include "server/batch_lifecycle.h"

#include <array>

namespace batchwise {
namespace {

constexpr std::array<std::string_view, 8> kNames = {"validating", "in_progress", "finalizing", "completed",
                                                    "failed",     "expired",     "cancelling", "cancelled"};

}  // namespace

std::string_view batch_status_name(BatchStatus s) { return kNames[static_cast<size_t>(s)]; }

std::optional<BatchStatus> parse_batch_status(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<BatchStatus>(i);
  }
  return std::nullopt;
}

bool is_final(BatchStatus s) {
  return s == BatchStatus::kCompleted || s == BatchStatus::kFailed || s == BatchStatus::kExpired ||
         s == BatchStatus::kCancelled;
}

bool can_move(BatchStatus from, BatchStatus to) {
  using S = BatchStatus;
  if (is_final(from)) return false;
  if (to == S::kFailed) return true;  // a batch that cannot go on fails from wherever it is
  switch (from) {
    case S::kValidating: return to == S::kInProgress || to == S::kCancelling || to == S::kExpired;
    case S::kInProgress: return to == S::kFinalizing || to == S::kCancelling || to == S::kExpired;
    case S::kFinalizing: return to == S::kCompleted || to == S::kExpired;
    case S::kCancelling: return to == S::kCancelled;
    default: return false;
  }
}

}  // namespace batchwise
