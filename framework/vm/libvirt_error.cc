#include "vm/libvirt_error.h"

#include <mutex>

namespace cpuhp {
namespace {
// libvirt's default handler prints to stderr; the error stays available to
// virGetLastError() either way.
void IgnoreLibvirtError(void*, virErrorPtr) {}
}  // namespace

LibvirtError::LibvirtError(std::string call, int code, int domain, std::string libvirt_message)
    : Error("libvirt: " + call + ": " + libvirt_message + " (code " + std::to_string(code) +
            ", domain " + std::to_string(domain) + ")"),
      call_(std::move(call)),
      code_(code),
      domain_(domain),
      libvirt_message_(std::move(libvirt_message)) {}

void InitLibvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
  });
}

LibvirtError LastLibvirtError(const std::string& call) {
  virErrorPtr e = virGetLastError();
  if (!e) return LibvirtError(call, VIR_ERR_INTERNAL_ERROR, VIR_FROM_NONE, "failed without an error");
  return LibvirtError(call, e->code, e->domain, e->message ? e->message : "(no message)");
}

LibvirtConnect OpenLibvirt(const std::string& uri) {
  InitLibvirt();
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (!c) throw LastLibvirtError("virConnectOpen " + uri);
  return LibvirtConnect(c);
}

}  // namespace cpuhp
