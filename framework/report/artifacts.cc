#include "report/artifacts.h"

#include <cerrno>
#include <fstream>

#include "util/error.h"
#include "util/fd.h"

namespace cpuhp {

void WriteTextFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw SystemError("open " + tmp.string(), errno);
    out << text;
    out.flush();
    if (!out) throw SystemError("write " + tmp.string(), errno);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw SystemError("rename " + tmp.string() + " to " + path.string(), ec.value());
}

void WriteJsonFile(const std::filesystem::path& path, const nlohmann::json& j) {
  WriteTextFile(path, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

nlohmann::json ReadJsonFile(const std::filesystem::path& path) {
  std::string text = ReadFileToString(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(path.string() + ": not valid JSON: " + e.what());
  }
}

}  // namespace cpuhp
