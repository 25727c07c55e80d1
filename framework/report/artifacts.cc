#include "report/artifacts.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <vector>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

// Fresh random names for the temporary file before giving up: a clash is
// already unlikely once, so a run of them means someone is planting names.
constexpr int kTempNameAttempts = 100;

// The path's components, without the empty one a trailing '/' leaves.
std::vector<fs::path> Components(const fs::path& p) {
  std::vector<fs::path> out;
  for (const auto& c : p) {
    if (!c.empty()) out.push_back(c);
  }
  return out;
}

// Both absolute and normal.
bool StrictlyBelow(const fs::path& root, const fs::path& dir) {
  std::vector<fs::path> r = Components(root), d = Components(dir);
  return d.size() > r.size() && std::equal(r.begin(), r.end(), d.begin());
}

// A name for the temporary next to `path` that nobody else uses: O_EXCL and
// O_NOFOLLOW make a planted file or link an EEXIST/ELOOP, never a target.
UniqueFd CreateTemp(const fs::path& path, fs::path* tmp) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, ".tmp.%d.%016llx", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(rng()));
    *tmp = path;
    *tmp += suffix;
    // 0666 as std::ofstream had: the umask decides, and CI collects reports
    // as another user.
    int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != EEXIST || attempt == kTempNameAttempts) {
      throw SystemError("create a temporary file for " + path.string() + " (" + tmp->string() +
                            ", attempt " + std::to_string(attempt) + " of " +
                            std::to_string(kTempNameAttempts) + ")",
                        errno);
    }
  }
}

void WriteFully(int fd, const std::string& text, const fs::path& tmp) {
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError("write " + tmp.string(), errno);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void WriteTextFile(const fs::path& path, const std::string& text) {
  fs::path tmp;
  UniqueFd fd = CreateTemp(path, &tmp);
  try {
    WriteFully(fd.get(), text, tmp);
    // On disk before it has the real name: a crash leaves the old report or
    // the new one, not an empty file.
    if (::fsync(fd.get()) != 0) throw SystemError("fsync " + tmp.string(), errno);
    int raw = fd.release();
    if (::close(raw) != 0 && errno != EINTR) throw SystemError("close " + tmp.string(), errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      throw SystemError("rename " + tmp.string() + " to " + path.string(), errno);
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // The rename itself is durable once the directory is synced; a report is
  // still whole without it, so a failure here is not worth an error.
  fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void WriteJsonFile(const fs::path& path, const nlohmann::json& j) {
  WriteTextFile(path, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

nlohmann::json ReadJsonFile(const fs::path& path) {
  std::string text = ReadFileToString(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(path.string() + ": not valid JSON: " + e.what());
  }
}

void RequireInsideRoot(const fs::path& root, const fs::path& dir) {
  fs::path lexical_root = fs::absolute(root).lexically_normal();
  fs::path lexical_dir = fs::absolute(dir).lexically_normal();
  bool inside = StrictlyBelow(lexical_root, lexical_dir);
  std::string resolved;
  std::error_code ec;
  if (inside && fs::exists(lexical_root, ec)) {
    fs::path real_root = fs::weakly_canonical(lexical_root, ec);
    fs::path real_dir = ec ? fs::path() : fs::weakly_canonical(lexical_dir, ec);
    inside = !ec && StrictlyBelow(real_root, real_dir);
    if (!inside) {
      resolved = ec ? " (cannot resolve: " + ec.message() + ")"
                    : " (resolves to " + real_dir.string() + ", the root to " +
                          real_root.string() + ")";
    }
  }
  if (!inside) {
    throw Error("run directory " + dir.string() + " is not strictly inside the artifacts root " +
                root.string() + resolved +
                ": refusing to create or remove it (is the run named \".\" or \"..\"?)");
  }
}

}  // namespace cpuhp
