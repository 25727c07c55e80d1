#include "util/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <system_error>

#include "util/error.h"

namespace cpuhp {

void MakeDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw SystemError("mkdir " + dir.string(), ec.value());
}

TempDir::TempDir(const std::filesystem::path& parent, const std::string& prefix) {
  MakeDirs(parent);
  std::string tmpl = (parent / (prefix + "XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw SystemError("mkdtemp " + tmpl, errno);
  path_ = tmpl;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)), keep_(other.keep_) {
  other.path_.clear();
}

TempDir::~TempDir() {
  if (path_.empty() || keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace cpuhp
