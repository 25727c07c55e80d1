// A private directory that is removed when its owner goes away.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "util/fd.h"

namespace cpuhp {

// Creates a fresh directory `<parent>/<prefix>XXXXXX` (mkdtemp) and removes it
// recursively on destruction unless Keep() was called. Move-only.
//
// The directory holds kTempDirOwnerLock, flock()ed by its owner for as long
// as the TempDir lives. A lock dies with its process, SIGKILL included, so
// RemoveStaleTempDirs() can tell a directory that a killed cpuhp left behind
// (its sockets, say) from one in use.
class TempDir {
 public:
  TempDir(const std::filesystem::path& parent, const std::string& prefix);
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  // Leaves the directory in place for good: it loses its owner lock, so no
  // sweep removes it either.
  void Keep();

 private:
  std::filesystem::path path_;
  UniqueFd lock_;
  bool keep_ = false;
};

// The name of the owner lock inside each TempDir.
inline constexpr std::string_view kTempDirOwnerLock = ".cpuhp-owner.lock";

// Removes the directories `<parent>/<prefix>*` that TempDirs of processes now
// gone left behind: only directories (never a symlink) of this effective
// user that hold an owner lock nobody holds. Anything else, cpuhp's or not,
// is left alone. Returns how many were removed; never throws.
int RemoveStaleTempDirs(const std::filesystem::path& parent, std::string_view prefix);

// Creates `dir` and its parents; throws SystemError naming it.
void MakeDirs(const std::filesystem::path& dir);

}  // namespace cpuhp
