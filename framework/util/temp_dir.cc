#include "util/temp_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "util/error.h"
#include "util/log.h"

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
  // Locked before it gets its name: a sweep never sees the lock file free
  // while its owner is alive.
  const auto pending = path_ / (std::string(kTempDirOwnerLock) + ".new");
  UniqueFd lock(::open(pending.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0 ||
      ::rename(pending.c_str(), (path_ / kTempDirOwnerLock).c_str()) != 0) {
    const int err = errno;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    throw SystemError("lock " + pending.string(), err);
  }
  // For a person looking at a leftover directory.
  const std::string owner = "pid " + std::to_string(::getpid()) + "\n";
  ssize_t ignored = ::write(lock.get(), owner.data(), owner.size());
  (void)ignored;
  lock_ = std::move(lock);
}

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::move(other.path_)), lock_(std::move(other.lock_)), keep_(other.keep_) {
  other.path_.clear();
}

void TempDir::Keep() {
  keep_ = true;
  if (!path_.empty()) ::unlink((path_ / kTempDirOwnerLock).c_str());
  lock_.reset();
}

TempDir::~TempDir() {
  if (path_.empty() || keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// True when `dir` is a directory a TempDir of a process now gone left.
bool IsStale(const std::filesystem::path& dir, UniqueFd& lock) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) return false;
  const auto lock_path = dir / kTempDirOwnerLock;
  lock.reset(::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!lock) return false;  // not a TempDir's, or Keep() was called on it
  struct stat held {}, named {};
  if (::fstat(lock.get(), &held) != 0 || !S_ISREG(held.st_mode) || held.st_uid != ::geteuid()) return false;
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // its owner is alive
  // Still the lock file that directory holds (not one a sweep just removed).
  return ::lstat(lock_path.c_str(), &named) == 0 && SameFile(held, named);
}

}  // namespace

int RemoveStaleTempDirs(const std::filesystem::path& parent, std::string_view prefix) {
  int removed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const auto dir = it->path();
    if (!dir.filename().string().starts_with(prefix)) continue;
    UniqueFd lock;  // held while the directory goes, so no second sweep races this one
    if (!IsStale(dir, lock)) continue;
    std::error_code rm;
    std::filesystem::remove_all(dir, rm);
    if (rm) {
      LOG(kWarning, "tempdir") << "cannot remove " << dir.string() << ", left by a cpuhp that is gone: "
                               << rm.message();
      continue;
    }
    LOG(kDebug, "tempdir") << "removed " << dir.string() << ", left by a cpuhp that is gone";
    ++removed;
  }
  return removed;
}

}  // namespace cpuhp
