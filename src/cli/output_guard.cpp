#include "cli/output_guard.h"

#include <system_error>

namespace batchwise {

Status refuse_overwrite(const std::filesystem::path& path, const std::string& flag, bool force) {
  std::error_code ec;
  if (force || !std::filesystem::exists(path, ec)) return {};
  return make_error(ErrorCode::kInvalidArgument, flag + " " + path.string() +
                                                   ": the file exists and would be replaced; pass --force to "
                                                   "replace it, or name another file");
}

}  // namespace batchwise
