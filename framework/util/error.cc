#include "util/error.h"

#include <cstring>

namespace cpuhp {
namespace {

struct FailureKindRow {
  FailureKind kind;
  std::string_view name;
};
constexpr FailureKindRow kFailureKinds[] = {
    {FailureKind::kError, "error"},           {FailureKind::kSetup, "setup"},
    {FailureKind::kCancelled, "cancelled"},   {FailureKind::kCheck, "check"},
    {FailureKind::kExpectation, "expectation"}, {FailureKind::kQmp, "qmp"},
    {FailureKind::kAgent, "agent"},           {FailureKind::kTimeout, "timeout"},
    {FailureKind::kConnection, "connection"}, {FailureKind::kProtocol, "protocol"},
    {FailureKind::kLaunch, "launch"},         {FailureKind::kSystem, "system"},
    {FailureKind::kMigration, "migration"},   {FailureKind::kLibvirt, "libvirt"},
};

}  // namespace

std::string_view FailureKindName(FailureKind kind) {
  for (const auto& row : kFailureKinds) {
    if (row.kind == kind) return row.name;
  }
  return "error";
}

std::optional<FailureKind> FailureKindFromName(std::string_view name) {
  for (const auto& row : kFailureKinds) {
    if (row.name == name) return row.kind;
  }
  return std::nullopt;
}

void Error::AddContext(const std::string& context) {
  if (context.empty()) return;
  message_ += "\n  ";
  for (char c : context) {
    message_ += c;
    if (c == '\n') message_ += "  ";
  }
}

SystemError::SystemError(const std::string& what, int err)
    : Error(what + ": " + std::strerror(err)), err_(err) {}

}  // namespace cpuhp
