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

namespace {

// A path as a shell word, quoted only where it has to be.
std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:@%") ==
                        std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

Status require_output_folder(const std::filesystem::path& path, const std::string& flag) {
  std::error_code ec;
  const std::filesystem::path folder = std::filesystem::absolute(path, ec).parent_path();
  if (ec || std::filesystem::is_directory(folder, ec)) return {};
  if (std::filesystem::exists(folder, ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      flag + " " + path.string() + ": " + folder.string() + " is not a folder: name another path");
  }
  return make_error(ErrorCode::kInvalidArgument, flag + " " + path.string() + ": the folder " + folder.string() +
                                                     " does not exist: create it (mkdir -p " +
                                                     shell_word(folder.string()) + ") or name another");
}

}  // namespace batchwise
