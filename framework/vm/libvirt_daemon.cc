#include "vm/libvirt_daemon.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <fstream>
#include <random>

#include "util/fd.h"
#include "util/file.h"
#include "util/log.h"
#include "util/wait.h"

#ifndef CPUHP_DEFAULT_LIBVIRT_CACHE_DIR
#define CPUHP_DEFAULT_LIBVIRT_CACHE_DIR "/var/tmp/cpuhp-libvirt-cache"
#endif

namespace cpuhp {
namespace {
namespace fs = std::filesystem;

// SIGTERM to SIGKILL: libvirtd shuts down in well under a second.
constexpr seconds kTerminateGrace{3};
// Between refused connects while libvirtd starts its drivers (~0.2 s warm).
constexpr milliseconds kConnectRetryInterval{50};
// How many lines of libvirtd.log an error quotes.
constexpr int kLogTailLines = 15;

// The namespace's PID 1: bind-mounts the private directories over libvirt's
// fixed paths, then runs libvirtd and reaps whatever it leaves (QEMU's
// capability probes). $1..$5: run lib cache log etc.
constexpr char kInit[] = R"sh(set -e
mount -t tmpfs -o mode=0755 cpuhp-run /run
mkdir -p /run/libvirt
mount --bind "$1" /run/libvirt
mount --bind "$2" /var/lib/libvirt
mount --bind "$3" /var/cache/libvirt
mount --bind "$4" /var/log/libvirt
mount --bind "$5" /etc/libvirt
libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirt/libvirtd.pid &
wait
)sh";

std::string RandomUuid() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string u = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (char& c : u) {
    if (c == 'x') c = "0123456789abcdef"[hex(rd)];
  }
  return u;
}

// $CPUHP_LIBVIRTD_LOG_FILTERS (libvirtd.conf's log_filters, e.g. "1:qemu
// 1:util.command") turns on libvirtd's debug output in libvirtd.log, for
// when libvirt fails with no cause ("An error occurred, but the cause is
// unknown"); otherwise errors and warnings only.
std::string LogFilters() {
  const char* f = std::getenv("CPUHP_LIBVIRTD_LOG_FILTERS");
  if (!f || !*f) return "";
  std::string safe;
  for (char c : std::string_view(f)) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == ' ' || c == '_' || c == '+') safe += c;
  }
  return "log_filters = \"" + safe + "\"\n";
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush()) throw SystemError("write " + path.string(), errno);
}

}  // namespace

fs::path DefaultLibvirtCacheDir() {
  if (const char* env = std::getenv("CPUHP_LIBVIRT_CACHE"); env && *env) return env;
  return CPUHP_DEFAULT_LIBVIRT_CACHE_DIR;
}

std::string LibvirtDaemonUnavailableReason() {
  if (!FindInPath("libvirtd") && !FindInPath("/usr/sbin/libvirtd")) return "libvirtd not found (Debian: libvirt-daemon-system)";
  if (!FindInPath("unshare")) return "unshare not found (util-linux)";
  if (::geteuid() != 0) return "a private libvirtd needs root (mount and PID namespaces)";
  Process probe = Process::Spawn({.argv = {"unshare", "-m", "-p", "-f", "true"}});
  auto status = probe.Wait(Deadline::After(seconds{10}));
  if (!status || !status->Success()) return "unshare -m -p is not permitted here";
  return "";
}

LibvirtDaemon::LibvirtDaemon(const LibvirtDaemonOptions& options, const Deadline& deadline)
    : root_(fs::temp_directory_path(), "cpuhp-libvirt-") {
  InitLibvirt();
  const fs::path& r = root_.path();
  for (const char* d : {"run", "lib", "log", "etc/qemu", "sock"}) MakeDirs(r / d);
  log_dir_ = options.log_dir.empty() ? r / "log" : options.log_dir;
  MakeDirs(log_dir_);
  fs::path cache = options.cache_dir.empty() ? DefaultLibvirtCacheDir() : options.cache_dir;
  MakeDirs(cache);
  const fs::path sock = r / "sock";
  // Debug filters need the debug level on the output too.
  const std::string filters = LogFilters();
  WriteText(r / "etc/libvirtd.conf",
            "unix_sock_dir = \"" + sock.string() + "\"\n"
            "auth_unix_ro = \"none\"\n"
            "auth_unix_rw = \"none\"\n"
            "host_uuid = \"" + (options.host_uuid.empty() ? RandomUuid() : options.host_uuid) + "\"\n"
            "log_outputs = \"" + (filters.empty() ? "3" : "1") + ":file:/var/log/libvirt/libvirtd.log\"\n" + filters);
  // QEMU as root, without libvirt's namespaces, cgroups, relabelling or
  // virtlogd: cpuhp's sockets and the kit's files are reachable as they are.
  WriteText(r / "etc/qemu.conf",
            "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\n"
            "namespaces = [ ]\ncgroup_controllers = [ ]\nsecurity_driver = \"none\"\n"
            "stdio_handler = \"file\"\n");
  uri_ = "qemu+unix:///system?socket=" + (sock / "libvirt-sock").string();
  process_.emplace(Process::Spawn(
      {.argv = {"unshare", "-m", "-p", "-f", "--mount-proc", "--kill-child", "--propagation",
                "private", "sh", "-c", kInit, "cpuhp-libvirt-init", (r / "run").string(),
                (r / "lib").string(), cache.string(), log_dir_.string(), (r / "etc").string()},
       .output = log_dir_ / "init.log"}));
  LOG(kInfo, "libvirt") << "private libvirtd starting (unshare pid " << process_->pid() << ", "
                        << uri_ << ")";
  WaitUntilAnswering(deadline);
}

LibvirtDaemon::~LibvirtDaemon() { Stop(); }

void LibvirtDaemon::FailStart(const std::string& why) {
  Stop();
  std::string log = TailOfFile(log_dir_ / "libvirtd.log", kLogTailLines);
  std::string init = TailOfFile(log_dir_ / "init.log", kLogTailLines);
  throw LaunchError("private libvirtd: " + why + (init.empty() ? "" : "\ninit.log:\n" + init) +
                        (log.empty() ? "" : "\nlibvirtd.log (last lines):\n" + log),
                    {.command = {"unshare", "-m", "-p", "-f", "--kill-child", "sh", "-c", "... libvirtd"},
                     .exit_status = process_ ? process_->status() : std::nullopt,
                     .qemu_log_tail = log});
}

void LibvirtDaemon::WaitUntilAnswering(const Deadline& deadline) {
  const fs::path sock = root_.path() / "sock" / "libvirt-sock";
  // The socket appears once libvirtd has read its confs: watch the
  // directory for it (and the process for its death) instead of polling.
  UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!in) throw SystemError("inotify_init1", errno);
  if (::inotify_add_watch(in.get(), sock.parent_path().c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
    throw SystemError("inotify_add_watch " + sock.parent_path().string(), errno);
  }
  while (!fs::exists(sock)) {
    pollfd fds[] = {{in.get(), POLLIN, 0}, {process_->pidfd(), POLLIN, 0}};
    int n = ::poll(fds, 2, deadline.PollTimeoutMs());
    if (n < 0 && errno != EINTR) throw SystemError("poll", errno);
    if (fds[1].revents) {
      process_->Wait(Deadline::AfterUnscaled(seconds{1}));
      FailStart("exited before creating its socket");
    }
    if (n == 0) {
      TimeoutError e("private libvirtd: no socket " + sock.string() + " before the deadline");
      Stop();
      throw e;
    }
    char buf[4096];
    while (::read(in.get(), buf, sizeof buf) > 0) {
    }
  }
  // unshare's one child, PID 1 of the namespace.
  std::string children = ReadFileToString("/proc/" + std::to_string(process_->pid()) + "/task/" +
                                          std::to_string(process_->pid()) + "/children");
  if (pid_t init = static_cast<pid_t>(std::atol(children.c_str())); init > 0) {
    init_pidfd_ = OpenPidfd(init);
  }
  // libvirtd binds its socket early but listens only once its drivers are
  // up (the QEMU driver probes QEMU's capabilities first, unless cached):
  // until then a connect is refused, and nothing announces the listen().
  std::optional<LibvirtError> refused;
  bool answered = WaitUntil(deadline, kConnectRetryInterval, [&] {
    if (!process_->Running()) return true;
    try {
      LibvirtConnect conn = OpenLibvirt(uri_);
      unsigned long version = 0;
      CheckLibvirt(virConnectGetLibVersion(conn.get(), &version), "virConnectGetLibVersion");
      LOG(kInfo, "libvirt") << "private libvirtd " << version / 1000000 << "." << version / 1000 % 1000
                            << "." << version % 1000 << " answering";
      refused.reset();
      return true;
    } catch (const LibvirtError& e) {
      refused = e;
      return false;
    }
  });
  if (!process_->Running()) FailStart("exited while starting");
  if (!answered) FailStart(std::string("did not answer before the deadline: ") + (refused ? refused->what() : ""));
}

void LibvirtDaemon::Stop() noexcept {
  if (!process_) return;
  try {
    // SIGTERM reaches unshare, sh and libvirtd (one process group); unshare's
    // death SIGKILLs sh (--kill-child), the namespace's PID 1, whose exit
    // kills every process left in the namespace (QEMU included) and waits for
    // them before sh itself is reported gone.
    auto status = process_->Terminate(kTerminateGrace);
    LOG(kDebug, "libvirt") << "private libvirtd ended ("
                           << (status ? status->Describe() : std::string("unreaped")) << ")";
    if (init_pidfd_) {
      pollfd fd{init_pidfd_.get(), POLLIN, 0};
      if (::poll(&fd, 1, Deadline::AfterUnscaled(kReapAfterKillTimeout).PollTimeoutMs()) == 0) {
        LOG(kWarning, "libvirt") << "the private libvirtd's namespace is still there "
                                 << FormatDuration(kReapAfterKillTimeout) << " after its init was killed";
      }
    }
  } catch (...) {
  }
  init_pidfd_.reset();
  process_.reset();
}

}  // namespace cpuhp
