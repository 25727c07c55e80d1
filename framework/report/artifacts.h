// Small helpers for the files a run leaves behind.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace cpuhp {

// Writes `j` pretty-printed (2-space indent) with a trailing newline, via a
// temporary file renamed into place so a reader never sees half a file.
// Throws SystemError naming the path.
void WriteJsonFile(const std::filesystem::path& path, const nlohmann::json& j);
// The same for text.
void WriteTextFile(const std::filesystem::path& path, const std::string& text);
// Throws SystemError (cannot read) or ProtocolError (not JSON), naming the path.
nlohmann::json ReadJsonFile(const std::filesystem::path& path);

}  // namespace cpuhp
