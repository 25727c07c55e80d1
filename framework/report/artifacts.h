// Small helpers for the files a run leaves behind.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace cpuhp {

// Writes `j` pretty-printed (2-space indent) with a trailing newline, via a
// temporary file renamed into place so a reader never sees half a file.
// Throws SystemError naming the path.
void WriteJsonFile(const std::filesystem::path& path, const nlohmann::json& j);
// The same for text. The temporary is a fresh name in the same directory
// (O_EXCL, never following a link), synced before the rename: two processes
// writing the same report each install a whole file of their own.
void WriteTextFile(const std::filesystem::path& path, const std::string& text);
// Throws SystemError (cannot read) or ProtocolError (not JSON), naming the path.
nlohmann::json ReadJsonFile(const std::filesystem::path& path);

// Throws Error unless `dir` lies strictly inside `root` (not the root itself,
// not outside it): lexically after lexically_normal(), and, once the root
// exists, also after weakly_canonical() resolves symlinks (a symlinked root
// is fine; a run directory that links out of it is not). The runner calls it
// before it creates or removes a run directory.
//
//   RequireInsideRoot("cpuhp-artifacts/now", "cpuhp-artifacts/now/smoke");  // ok
//   RequireInsideRoot("cpuhp-artifacts/now", "cpuhp-artifacts/now/..");     // throws
void RequireInsideRoot(const std::filesystem::path& root, const std::filesystem::path& dir);

}  // namespace cpuhp
