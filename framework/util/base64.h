// Base64 as the guest agent uses it for file contents (RFC 4648, padded).
#pragma once

#include <string>
#include <string_view>

namespace cpuhp {

std::string Base64Encode(std::string_view data);
// Throws ProtocolError on characters outside the alphabet.
std::string Base64Decode(std::string_view text);

}  // namespace cpuhp
