#include "util/error.h"

#include <cstring>

namespace cpuhp {

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
