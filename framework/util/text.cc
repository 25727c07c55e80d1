#include "util/text.h"

#include <algorithm>

#include <cstdio>

namespace cpuhp {

size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  char32_t value, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c >> 5) == 0x6) {
    n = 2, value = c & 0x1F, min = 0x80;
  } else if ((c >> 4) == 0xE) {
    n = 3, value = c & 0x0F, min = 0x800;
  } else if ((c >> 3) == 0x1E) {
    n = 4, value = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) >> 6) != 0x2) return 0;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  // The shortest form only: an overlong "/" (C0 AF) must not pass as "/".
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *cp = value;
  return n;
}

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [&](unsigned char b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", b);
    out += buf;
  };
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    size_t n = DecodeUtf8(text, i, &cp);
    if (n == 0) {
      hex(static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F) {
      hex(static_cast<unsigned char>(cp));
    } else if (cp >= 0x80 && cp <= 0x9F) {
      // A C1 control: some terminals take U+009B as CSI, like ESC [.
      for (size_t k = 0; k < n; ++k) hex(static_cast<unsigned char>(text[i + k]));
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace cpuhp
