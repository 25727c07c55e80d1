// Reading local files whole or by their tail: artifacts, logs, kit files.
// Descriptors and sockets are util/fd.h's business.
//
//   std::string spec = ReadFileToString(run_dir / "spec.json");
//   std::string last = TailOfFile(run_dir / "qemu.log", 10);
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cpuhp {

// Reads the whole (small) local file; throws SystemError naming it.
std::string ReadFileToString(const std::filesystem::path& path);
// The last `lines` lines of a local text file ("" if it cannot be read),
// from at most its last kTailMaxBytes: a line longer than kTailMaxLineBytes,
// or one that starts before that window, is cut and ends in kTailCutMarker.
// Bounded whatever a guest wrote into the file.
//
// Tails go into error messages, result.json and junit.xml: 64 KiB holds any
// useful number of console lines, and no console or QEMU line worth quoting
// (an oops line, an error naming a -device argument) is longer than 4 KiB.
inline constexpr size_t kTailMaxBytes = 64 << 10;
inline constexpr size_t kTailMaxLineBytes = 4 << 10;
inline constexpr std::string_view kTailCutMarker = " [cpuhp: line cut]";
std::string TailOfFile(const std::filesystem::path& path, int lines);

// Where `program` (a bare name) is on $PATH (an executable file), or
// nullopt; a name with a '/' is returned as is when executable.
std::optional<std::filesystem::path> FindInPath(const std::string& program);

}  // namespace cpuhp
