#include "util/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "util/error.h"
#include "util/fd.h"

namespace cpuhp {

std::string ReadFileToString(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SystemError("open " + path.string(), errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
// One line of a tail: without its '\r', cut to kTailMaxLineBytes, and marked
// when cut or when its start lay before the window read.
void AppendTailLine(std::string& out, std::string_view line, bool cut) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kTailMaxLineBytes) {
    line = line.substr(0, kTailMaxLineBytes);
    cut = true;
  }
  out.append(line);
  if (cut) out.append(kTailCutMarker);
  out += '\n';
}
}  // namespace

std::string TailOfFile(const std::filesystem::path& path, int lines) {
  if (lines <= 0) return "";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size <= 0) return "";
  const off_t start = size - static_cast<off_t>(std::min<uint64_t>(size, kTailMaxBytes));
  // One byte before the window says whether its first line starts there.
  const off_t from = start > 0 ? start - 1 : 0;
  std::string buf(static_cast<size_t>(size - from), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd.get(), buf.data() + got, buf.size() - got, from + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the file shrank, or an error: the tail of what was read
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  std::string_view text(buf);
  bool first_cut = false;
  if (start > 0 && !text.empty()) {
    first_cut = text.front() != '\n';
    text.remove_prefix(1);
  }
  std::vector<std::string_view> all;
  while (!text.empty()) {
    size_t end = text.find('\n');
    all.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  const size_t first = all.size() > static_cast<size_t>(lines) ? all.size() - static_cast<size_t>(lines) : 0;
  std::string out;
  for (size_t i = first; i < all.size(); ++i) AppendTailLine(out, all[i], first_cut && i == 0);
  return out;
}

std::optional<std::filesystem::path> FindInPath(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return program;
    return std::nullopt;
  }
  const char* env = std::getenv("PATH");
  std::string dirs = env ? env : "/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) return std::nullopt;
    start = end + 1;
  }
}

}  // namespace cpuhp
