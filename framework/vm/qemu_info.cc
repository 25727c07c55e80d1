#include "vm/qemu_info.h"

#include <poll.h>

#include <cerrno>
#include <csignal>
#include <optional>

#include "qmp/qmp_client.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/process.h"
#include "util/temp_dir.h"

namespace cpuhp {

UniqueFd AcceptFromQemu(int listen_fd, Process& qemu, const Deadline& deadline) {
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {qemu.pidfd(), POLLIN, 0}};
    int rc = ::poll(fds, 2, deadline.PollTimeoutMs());
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw SystemError("poll", errno);
    if (fds[0].revents & POLLIN) {
      if (auto fd = AcceptWithDeadline(listen_fd, deadline)) return fd;
    }
    if (fds[1].revents & POLLIN) {
      qemu.Wait(Deadline::AfterUnscaled(kQemuQuitTimeout));
      return UniqueFd();
    }
    if (rc == 0) return UniqueFd();
  }
}

std::string QemuVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(micro);
}

QemuVersion ParseQueryVersion(const nlohmann::json& v, const std::string& who) {
  QemuVersion out;
  const nlohmann::json& q = v.value("qemu", nlohmann::json::object());
  if (!q.is_object()) throw ProtocolError(who + ": query-version: \"qemu\" is not an object");
  auto num = [&](const char* f) { return q.contains(f) && q[f].is_number_integer() ? q[f].get<int>() : 0; };
  out.major = num("major");
  out.minor = num("minor");
  out.micro = num("micro");
  if (v.contains("package") && v["package"].is_string()) {
    // QEMU's own answer, but shown in reports: bounded.
    out.package = v["package"].get<std::string>().substr(0, 128);
  }
  return out;
}

QemuVersion QueryQemuVersion(const std::string& qemu_binary, const Deadline& deadline) {
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-version-");
  const auto socket = dir.path() / "qmp.sock";
  UniqueFd listen = ListenUnix(socket);
  const std::vector<std::string> argv = {
      qemu_binary, "-machine", "none", "-nodefaults", "-no-user-config", "-display", "none",
      "-chardev", "socket,id=qmp0,path=" + socket.string(), "-mon", "chardev=qmp0,mode=control"};
  Process qemu = Process::Spawn({.argv = argv, .output = dir.path() / "qemu.log"});
  auto fail = [&](const std::string& why) -> LaunchError {
    qemu.SignalGroup(SIGKILL);
    qemu.Wait(Deadline::AfterUnscaled(kQemuQuitTimeout));
    std::string log = TailOfFile(dir.path() / "qemu.log", 5);
    return LaunchError(qemu_binary + ": " + why + (log.empty() ? "" : ":\n" + log),
                       {.command = argv, .exit_status = qemu.status(), .qemu_log_tail = log});
  };
  UniqueFd conn = AcceptFromQemu(listen.get(), qemu, deadline);
  if (!conn && qemu.status()) throw fail("QEMU exited (" + qemu.status()->Describe() + ") before connecting QMP");
  if (!conn) throw fail("QEMU did not connect its QMP socket in time");
  QmpClient qmp(std::move(conn), "qmp", nullptr);
  qmp.Handshake(deadline);
  nlohmann::json v = qmp.Execute("query-version", nullptr, deadline);
  QemuVersion out = ParseQueryVersion(v, qemu_binary);
  try {
    qmp.Execute("quit", nullptr, Deadline::AfterUnscaled(kQemuQuitTimeout));
  } catch (const Error&) {
    // QEMU may close the socket before replying: that is a successful quit.
  }
  if (!qemu.Wait(Deadline::AfterUnscaled(kQemuQuitTimeout))) qemu.SignalGroup(SIGKILL);
  return out;
}

}  // namespace cpuhp
