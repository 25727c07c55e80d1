// A private directory that is removed when its owner goes away.
#pragma once

#include <filesystem>

namespace cpuhp {

// Creates a fresh directory `<parent>/<prefix>XXXXXX` (mkdtemp) and removes it
// recursively on destruction unless Keep() was called. Move-only.
class TempDir {
 public:
  TempDir(const std::filesystem::path& parent, const std::string& prefix);
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// Creates `dir` and its parents; throws SystemError naming it.
void MakeDirs(const std::filesystem::path& dir);

}  // namespace cpuhp
