#include "cli/inspect_command.h"

#include <algorithm>
#include <charconv>
#include <iostream>

#include "check/inspect.h"

namespace cpuhp {
namespace {

std::optional<int> ParsePositive(const std::string& text) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

std::string InspectUsage() {
  return "usage: cpuhp inspect --qmp SOCKET --qga SOCKET [--json] [--maxcpus N]\n"
         "                     [--only INVARIANT[,INVARIANT...]] [--timeout SECONDS]\n"
         "Attaches to a running VM whose QMP and guest agent sockets QEMU listens on\n"
         "(-chardev socket,path=SOCKET,server=on,wait=off), prints QEMU's and the guest's\n"
         "views of the vCPUs and checks that they agree.\n"
         "Exit status: 0 consistent, 1 inconsistent, 2 usage or connection error.\n";
}

std::optional<InspectOptions> ParseInspectArgs(const std::vector<std::string>& args,
                                               std::string* error) {
  InspectOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        *error = a + " needs a value";
        return std::nullopt;
      }
      return args[++i];
    };
    if (a == "--json") {
      o.json = true;
    } else if (a == "--qmp" || a == "--qga") {
      auto v = value();
      if (!v) return std::nullopt;
      (a == "--qmp" ? o.qmp_socket : o.qga_socket) = *v;
    } else if (a == "--maxcpus" || a == "--timeout") {
      auto v = value();
      if (!v) return std::nullopt;
      auto n = ParsePositive(*v);
      if (!n) {
        *error = a + " wants a positive whole number, not \"" + *v + "\"";
        return std::nullopt;
      }
      if (a == "--maxcpus")
        o.maxcpus = *n;
      else
        o.timeout = seconds(*n);
    } else if (a == "--only") {
      auto v = value();
      if (!v) return std::nullopt;
      size_t start = 0;
      while (start <= v->size()) {
        size_t comma = v->find(',', start);
        std::string name = v->substr(start, comma == std::string::npos ? comma : comma - start);
        if (InvariantDescription(name).empty()) {
          *error = "unknown invariant \"" + name + "\"";
          return std::nullopt;
        }
        o.only.push_back(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else {
      *error = "unknown argument \"" + a + "\"";
      return std::nullopt;
    }
  }
  if (o.qmp_socket.empty() || o.qga_socket.empty()) {
    *error = "both --qmp and --qga are needed";
    return std::nullopt;
  }
  return o;
}

int RunInspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (std::find(args.begin(), args.end(), "--help") != args.end()) {
    out << InspectUsage();
    return 0;
  }
  std::string error;
  auto options = ParseInspectArgs(args, &error);
  if (!options) {
    err << "cpuhp inspect: " << error << "\n" << InspectUsage();
    return 2;
  }
  CheckOptions check;
  check.only = options->only;
  if (options->maxcpus) check.smp = {.cpus = 1, .maxcpus = *options->maxcpus};
  Inspection inspection;
  try {
    inspection = InspectRunningVm(options->qmp_socket, options->qga_socket, check, options->timeout);
  } catch (const Error& e) {
    err << "cpuhp inspect: " << e.what() << "\n";
    return 2;
  }
  if (options->json) {
    // Guest strings (cpu_vendor, state names) need not be UTF-8: a strict
    // dump() throws type_error on them, past every handler.
    out << ToJson(inspection).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    out << FormatInspection(inspection);
  }
  return inspection.result.Passed() ? 0 : 1;
}

int RunInspectCommand(const std::vector<std::string>& args) {
  return RunInspect(args, std::cout, std::cerr);
}

}  // namespace cpuhp
