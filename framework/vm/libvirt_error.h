// libvirt's handles and errors, the C++ way: every handle is owned by a
// unique_ptr that frees it (virConnectClose, virDomainFree, free() for
// strings libvirt returns), and every failing call becomes a LibvirtError
// carrying libvirt's own code, domain and message, so callers branch on
// fields (code() == VIR_ERR_OPERATION_TIMEOUT), never on text.
//
// libvirt prints every error on stderr unless told otherwise:
// InitLibvirt() installs a silent error handler (the error is still kept per
// thread for virGetLastError) and is called by every entry point here.
//
//   LibvirtConnect conn = OpenLibvirt("qemu+unix:///system?socket=/tmp/x/libvirt-sock");
//   LibvirtDomain dom = CheckLibvirt(virDomainCreateXML(conn.get(), xml.c_str(), 0), "create");
//   LibvirtString desc = CheckLibvirt(virDomainGetXMLDesc(dom.get(), 0), "dumpxml");
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "util/error.h"

namespace cpuhp {

struct LibvirtConnectCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct LibvirtDomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct LibvirtStringFreer {
  void operator()(char* s) const { free(s); }  // NOLINT: libvirt's strings are malloc'ed
};
using LibvirtConnect = std::unique_ptr<virConnect, LibvirtConnectCloser>;
using LibvirtDomain = std::unique_ptr<virDomain, LibvirtDomainFreer>;
using LibvirtString = std::unique_ptr<char, LibvirtStringFreer>;

// libvirt refused or failed a call: virGetLastError()'s fields, and the call.
class LibvirtError : public Error {
 public:
  LibvirtError(std::string call, int code, int domain, std::string libvirt_message);
  FailureKind kind() const override { return FailureKind::kLibvirt; }
  const std::string& call() const { return call_; }
  // virErrorNumber (VIR_ERR_OPERATION_TIMEOUT, ...) and virErrorDomain (VIR_FROM_QEMU, ...).
  int code() const { return code_; }
  int domain() const { return domain_; }
  const std::string& libvirt_message() const { return libvirt_message_; }

 private:
  std::string call_;
  int code_;
  int domain_;
  std::string libvirt_message_;
};

// Keeps libvirt quiet on stderr; idempotent, thread-safe.
void InitLibvirt();

// The LibvirtError for `call` from this thread's last libvirt error.
LibvirtError LastLibvirtError(const std::string& call);

// Throws LastLibvirtError(call) when a libvirt call returned -1.
inline int CheckLibvirt(int rc, const std::string& call) {
  if (rc < 0) throw LastLibvirtError(call);
  return rc;
}
// Takes ownership of what a libvirt call returned; throws when it is null.
inline LibvirtDomain CheckLibvirt(virDomainPtr d, const std::string& call) {
  if (!d) throw LastLibvirtError(call);
  return LibvirtDomain(d);
}
inline LibvirtString CheckLibvirt(char* s, const std::string& call) {
  if (!s) throw LastLibvirtError(call);
  return LibvirtString(s);
}

// Opens `uri` read-write. Throws LibvirtError.
LibvirtConnect OpenLibvirt(const std::string& uri);

}  // namespace cpuhp
