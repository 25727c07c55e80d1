#include "vm/serial_log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

#include "util/error.h"
#include "util/fd.h"

namespace cpuhp {

namespace {

// Kernel messages that mean "something is stuck or broken", as printed by
// 6.x kernels (kernel/watchdog.c, kernel/rcu/tree_stall.h, kernel/hung_task.c,
// lib/bug.c, kernel/panic.c).
constexpr std::array<std::string_view, 8> kDistressMarkers = {
    "BUG: soft lockup",
    "Watchdog detected hard LOCKUP",
    "rcu: INFO: rcu_",  // "rcu_sched self-detected stall", "rcu_preempt detected stalls"
    "blocked for more than",
    "BUG: ",
    "Oops: ",
    "Kernel panic - not syncing",
    "general protection fault",
};

std::string_view LineAt(std::string_view text, size_t pos) {
  size_t begin = text.rfind('\n', pos);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) end = text.size();
  std::string_view line = text.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::optional<std::string> FindKernelDistress(std::string_view console) {
  size_t first = std::string_view::npos;
  for (std::string_view marker : kDistressMarkers) {
    size_t pos = console.find(marker);
    if (pos < first) first = pos;
  }
  if (first == std::string_view::npos) return std::nullopt;
  return std::string(LineAt(console, first));
}

bool LooksLikeStopMachineStall(std::string_view console) {
  return FindKernelDistress(console).has_value() &&
         (console.find("multi_cpu_stop") != std::string_view::npos ||
          console.find("stop_machine") != std::string_view::npos);
}

namespace {
constexpr std::string_view kInitStartedLine = "cpuhp-init: started";
constexpr std::string_view kReadyLine = "cpuhp-guest-ready";
constexpr std::string_view kGuestErrorPrefix = "cpuhp-guest-error:";

// The last line with something on it.
std::string_view LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return LineAt(text, text.empty() ? 0 : text.size() - 1);
}
}  // namespace

std::string QuoteGuestLine(std::string_view line, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < line.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7F) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\x%02x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (line.size() > max) out += "...";
  return out + "\"";
}

std::string ExplainBootFailure(std::string_view console) {
  if (console.find_first_not_of(" \r\n\t") == std::string_view::npos) {
    return "the guest printed nothing: firmware or the accelerator never ran (`cpuhp doctor` shows "
           "whether this host's accelerator runs guests)";
  }
  if (size_t pos = console.find(kGuestErrorPrefix); pos != std::string_view::npos) {
    return "the guest's /init reported an error: " + QuoteGuestLine(LineAt(console, pos));
  }
  if (auto distress = FindKernelDistress(console)) {
    return "the guest kernel is in trouble: " + QuoteGuestLine(*distress);
  }
  if (console.find(kInitStartedLine) == std::string_view::npos &&
      console.find(kReadyLine) == std::string_view::npos) {
    return "the guest kernel printed but never started /init (last line: " +
           QuoteGuestLine(LastLine(console)) + "; a kernel without the kit's initramfs, or stuck early)";
  }
  if (console.find(kReadyLine) == std::string_view::npos) {
    return "the guest's /init started but never said cpuhp-guest-ready (last line: " +
           QuoteGuestLine(LastLine(console)) + "; is the guest kit's /init starting qemu-ga?)";
  }
  return "the guest said cpuhp-guest-ready but its agent never answered (is the "
         "org.qemu.guest_agent.0 port connected to qemu-ga?)";
}

namespace {
// The two messages, as literal text around their two numbers.
struct AllowanceFormat {
  std::string_view before_first;
  std::string_view between;
  std::string_view after;
  bool first_is_present;  // else the first number counts all possible CPUs
};
constexpr std::array<AllowanceFormat, 2> kAllowanceFormats = {{
    {"CPU topo: Allowing ", " present CPUs plus ", " hotplug CPUs", true},
    {"smpboot: Allowing ", " CPUs, ", " hotplug CPUs", false},
}};

// A kernel has at most 8192 CPUs (NR_CPUS); more digits than that are not a count.
constexpr size_t kMaxCountDigits = 5;

std::optional<int> TakeCount(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && n <= kMaxCountDigits && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || n > kMaxCountDigits) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < n; ++i) value = value * 10 + (s[i] - '0');
  s.remove_prefix(n);
  return value;
}

bool TakeLiteral(std::string_view& s, std::string_view literal) {
  if (!s.starts_with(literal)) return false;
  s.remove_prefix(literal.size());
  return true;
}
}  // namespace

std::optional<CpuAllowanceLine> ParseCpuAllowanceLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  for (const AllowanceFormat& f : kAllowanceFormats) {
    size_t at = line.find(f.before_first);
    if (at == std::string_view::npos) continue;
    std::string_view message = line.substr(at);
    std::string_view rest = message;
    rest.remove_prefix(f.before_first.size());
    std::optional<int> first = TakeCount(rest);
    if (!first || !TakeLiteral(rest, f.between)) continue;
    std::optional<int> hotplug = TakeCount(rest);
    if (!hotplug || !TakeLiteral(rest, f.after) || !rest.empty()) continue;
    return CpuAllowanceLine{.possible = f.first_is_present ? *first + *hotplug : *first,
                            .hotplug = *hotplug,
                            .text = std::string(message)};
  }
  return std::nullopt;
}

std::optional<CpuAllowanceLine> FindCpuAllowanceLine(std::string_view console) {
  // Line by line, so that a console of one endless line is read once, not
  // once per "Allowing" in it.
  while (!console.empty()) {
    size_t end = console.find('\n');
    if (auto found = ParseCpuAllowanceLine(console.substr(0, end))) return found;
    if (end == std::string_view::npos) break;
    console.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::string ReadConsoleForDiagnosis(const std::filesystem::path& serial_log) {
  UniqueFd fd(::open(serial_log.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  auto read_at = [&](off_t offset, size_t n) {
    std::string buf(n, '\0');
    ssize_t got = ::pread(fd.get(), buf.data(), n, offset);
    buf.resize(got > 0 ? static_cast<size_t>(got) : 0);
    return buf;
  };
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size <= 0) return "";
  if (static_cast<size_t>(size) <= 2 * kMaxConsoleScan) return read_at(0, static_cast<size_t>(size));
  return read_at(0, kMaxConsoleScan) + "\n[cpuhp: console cut here]\n" +
         read_at(size - static_cast<off_t>(kMaxConsoleScan), kMaxConsoleScan);
}

namespace {
// What the pump reads at once.
constexpr size_t kPumpChunk = 64 << 10;
// When the pump stops while QEMU still writes, what it takes from the socket
// before it goes: what was already sent, not a guest that prints forever.
constexpr size_t kMaxDrainOnStop = 4 << 20;

// Writes all of `bytes`; false when the file cannot take them (ENOSPC, say).
bool WriteToFile(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}
}  // namespace

SerialLogPump::SerialLogPump(UniqueFd console, const std::filesystem::path& log, SerialLogLimits limits)
    : console_(std::move(console)), limits_(limits) {
  file_.reset(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!file_) throw SystemError("open " + log.string(), errno);
  int stop[2];
  if (::pipe2(stop, O_CLOEXEC) != 0) throw SystemError("pipe2", errno);
  stop_read_.reset(stop[0]);
  stop_write_.reset(stop[1]);
  thread_ = std::thread([this] { Run(); });
}

SerialLogPump::~SerialLogPump() {
  ssize_t ignored = ::write(stop_write_.get(), "x", 1);
  (void)ignored;
  thread_.join();
}

bool SerialLogPump::WaitForEnd(const Deadline& deadline) {
  std::unique_lock lock(mu_);
  if (deadline.IsNever()) {
    changed_cv_.wait(lock, [&] { return ended_; });
    return true;
  }
  return changed_cv_.wait_until(lock, deadline.at(), [&] { return ended_; });
}

ConsoleLineWait SerialLogPump::WaitForLine(uint64_t after,
                                           const std::function<bool(std::string_view)>& accept,
                                           const Deadline& deadline) {
  ConsoleLineWait result;
  result.last_number = after;
  for (;;) {
    std::vector<ConsoleLine> fresh;
    bool ended;
    {
      std::unique_lock lock(mu_);
      auto has_news = [&] { return ended_ || line_count_ > result.last_number; };
      if (deadline.IsNever()) {
        changed_cv_.wait(lock, has_news);
      } else if (!changed_cv_.wait_until(lock, deadline.at(), has_news)) {
        return result;
      }
      const uint64_t oldest_kept = lines_.empty() ? line_count_ + 1 : lines_.front().number;
      if (oldest_kept > result.last_number + 1) {
        result.skipped += oldest_kept - result.last_number - 1;
        result.last_number = oldest_kept - 1;
      }
      for (const ConsoleLine& line : lines_) {
        if (line.number > result.last_number) fresh.push_back(line);
      }
      ended = ended_;
    }
    // Matched without the lock: a slow pattern must not stall the pump, which
    // would stall the guest's console.
    for (ConsoleLine& line : fresh) {
      result.last_number = line.number;
      if (accept(line.text)) {
        result.line = std::move(line);
        return result;
      }
    }
    if (ended) {
      result.ended = true;
      return result;
    }
  }
}

std::vector<ConsoleLine> SerialLogPump::LastLines(size_t n) const {
  std::lock_guard lock(mu_);
  n = std::min(n, lines_.size());
  return {lines_.end() - static_cast<std::ptrdiff_t>(n), lines_.end()};
}

void SerialLogPump::KeepLines(std::string_view bytes) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    std::string_view piece = bytes.substr(0, newline);
    const size_t room = kMaxLineBytes - std::min(kMaxLineBytes, partial_line_.size());
    partial_line_.append(piece.substr(0, room));
    if (newline == std::string_view::npos) return;
    EndLine();
    bytes.remove_prefix(newline + 1);
  }
}

void SerialLogPump::EndLine() {
  if (!partial_line_.empty() && partial_line_.back() == '\r') {
    partial_line_.pop_back();
  }
  std::lock_guard lock(mu_);
  lines_.push_back({++line_count_, std::move(partial_line_)});
  if (lines_.size() > kKeptLines) lines_.pop_front();
  partial_line_.clear();
  changed_cv_.notify_all();
}

void SerialLogPump::Take(std::string_view bytes) {
  KeepLines(bytes);
  if (head_written_ < limits_.head) {
    const size_t n = std::min(bytes.size(), limits_.head - head_written_);
    // A file that cannot take more (a full disk) ends the head early.
    head_written_ = WriteToFile(file_.get(), bytes.substr(0, n)) ? head_written_ + n : limits_.head;
    bytes.remove_prefix(n);
  }
  if (bytes.empty()) return;
  if (past_head_ == 0) {
    WriteToFile(file_.get(), "\n" + std::string(kSerialLogCutMarker) + " the guest printed more than " +
                                 std::to_string(head_written_) + " bytes; only its last " +
                                 std::to_string(limits_.tail) + " follow, once the console ends]\n");
  }
  past_head_ += bytes.size();
  tail_.append(bytes);
  // Trimmed in batches, so that keeping the last bytes costs O(1) per byte.
  if (tail_.size() > 2 * limits_.tail) tail_.erase(0, tail_.size() - limits_.tail);
}

void SerialLogPump::Finish() {
  if (past_head_ == 0) return;
  if (tail_.size() > limits_.tail) tail_.erase(0, tail_.size() - limits_.tail);
  WriteToFile(file_.get(), "[cpuhp: " + std::to_string(past_head_ - tail_.size()) +
                               " bytes of console output dropped; its last " +
                               std::to_string(tail_.size()) + " bytes follow]\n");
  WriteToFile(file_.get(), tail_);
  tail_.clear();
}

void SerialLogPump::Run() {
  std::string buf(kPumpChunk, '\0');
  bool stopping = false;
  size_t drained = 0;
  for (;;) {
    if (!stopping) {
      pollfd fds[2] = {{console_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      int rc = ::poll(fds, 2, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) break;
      stopping = fds[1].revents != 0;
    }
    ssize_t n = ::recv(console_.get(), buf.data(), buf.size(), stopping ? MSG_DONTWAIT : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // QEMU closed the console, or (stopping) nothing more is there
    Take(std::string_view(buf.data(), static_cast<size_t>(n)));
    drained += stopping ? static_cast<size_t>(n) : 0;
    if (drained >= kMaxDrainOnStop) break;
  }
  if (!partial_line_.empty()) EndLine();
  Finish();
  std::lock_guard lock(mu_);
  ended_ = true;
  changed_cv_.notify_all();
}

}  // namespace cpuhp
