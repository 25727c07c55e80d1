// transcript.log against guest text: one record is one line whatever the
// text holds (review.md 2: a note with a newline planted a QMP command that
// repro.sh replayed), the reader gets the text back byte for byte, and the
// file stops growing at its cap with one marker line.
#include <gtest/gtest.h>

#include <fstream>

#include "report/repro.h"
#include "util/file.h"
#include "util/temp_dir.h"
#include "util/transcript.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class TranscriptTest : public ::testing::Test {
 protected:
  TempDir dir_{fs::temp_directory_path(), "cpuhp-transcript-test-"};
  fs::path path_ = dir_.path() / "transcript.log";
};

constexpr char kPlanted[] =
    "step 2 failed: guest agent command guest-file-open failed: GenericError: EIO\n"
    "2026-01-01T00:00:00.000Z +0.5 qmp -> {\"execute\":\"human-monitor-command\","
    "\"arguments\":{\"command-line\":\"migrate exec:touch /tmp/PWNED\"}}";

TEST_F(TranscriptTest, APlantedLineStaysInsideItsNote) {
  {
    Transcript t(path_);
    t.Record("scenario", Transcript::Direction::kNote, kPlanted);
    t.Record("qmp", Transcript::Direction::kSent, R"({"execute":"query-status"})");
  }
  ASSERT_EQ(Lines(path_).size(), 2u) << ReadFileToString(path_);
  auto entries = ReadTranscript(path_);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].channel, "scenario");
  EXPECT_EQ(entries[0].arrow, "--");
  EXPECT_EQ(entries[0].text, kPlanted);
  EXPECT_EQ(entries[1].channel, "qmp");
  EXPECT_EQ(entries[1].text, R"({"execute":"query-status"})");
}

TEST_F(TranscriptTest, EveryByteRoundTrips) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  all += "\\n is not a newline, \\\\ is two backslashes, a trailing \\";
  {
    Transcript t(path_);
    t.Record("qga", Transcript::Direction::kReceived, all);
    t.Record("vm", Transcript::Direction::kNote, "\r\n\r\n");
    t.Record("vm", Transcript::Direction::kNote, "");
  }
  ASSERT_EQ(Lines(path_).size(), 3u);
  auto entries = ReadTranscript(path_);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].text, all);
  EXPECT_EQ(entries[1].text, "\r\n\r\n");
  EXPECT_EQ(entries[2].text, "");
  // Control characters are never written raw (a terminal paging the log
  // would obey them), printable text stays readable.
  std::string raw = ReadFileToString(path_);
  for (char c : raw) {
    unsigned char u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u == '\n' || (u >= 0x20 && u != 0x7F)) << "raw byte " << int(u);
  }
  EXPECT_NE(raw.find("qga <- "), std::string::npos);
}

TEST_F(TranscriptTest, StopsAtItsCapWithOneMarkerLine) {
  constexpr uint64_t kCap = 4096;
  const std::string record(100, 'x');
  int written = 0;
  {
    Transcript t(path_, kCap);
    for (int i = 0; i < 200; ++i) t.Record("qmp", Transcript::Direction::kReceived, record);
    written = static_cast<int>(200 - t.dropped_records());
    EXPECT_GT(t.dropped_records(), 0u);
    EXPECT_LT(written, 200);
  }
  std::vector<std::string> lines = Lines(path_);
  // The records that fit, then the marker; nothing after it.
  ASSERT_EQ(lines.size(), static_cast<size_t>(written) + 1) << ReadFileToString(path_);
  EXPECT_NE(lines.back().find("truncated"), std::string::npos) << lines.back();
  EXPECT_NE(lines.back().find("4096"), std::string::npos) << lines.back();
  EXPECT_LE(fs::file_size(path_), kCap + lines.back().size() + 1);
  // The marker is a well-formed note, so readers skip it like any other.
  auto entries = ReadTranscript(path_);
  ASSERT_EQ(entries.size(), lines.size());
  EXPECT_EQ(entries.back().arrow, "--");
}

TEST(TranscriptLineTest, OnlyWellFormedRecordsAreRead) {
  const std::string good = R"(2026-11-23T09:10:00.123Z +1.234 qmp -> {"execute":"device_add"})";
  ASSERT_TRUE(ParseTranscriptLine(good));
  for (const std::string& bad : {
           "   " + good,                                                 // indented
           " " + good,                                                   // one space
           std::string(R"(garbage +1.234 qmp -> {})"),                   // not a timestamp
           std::string(R"(2026-11-23T09:10:00.123 +1.234 qmp -> {})"),   // no Z
           std::string(R"(2026-11-23 09:10:00.123Z +1.234 qmp -> {})"),  // a space inside
           std::string(R"(2026-11-23T09:10:00.123Z +1.2x qmp -> {})"),   // rel not a number
           std::string(R"(2026-11-23T09:10:00.123Z +inf qmp -> {})"),
           std::string(R"(2026-11-23T09:10:00.123Z 1.234 qmp -> {})"),   // no +
           std::string(R"(2026-11-23T09:10:00.123Z  +1.234 qmp -> {})"), // two spaces
           std::string(R"(2026-11-23T09:10:00.123Z +1.234 qmp  -> {})"),
           std::string("2026-11-23T09:10:00.123Z +1.234 qmp\t-> {}"),
           std::string(R"(2026-11-23T09:10:00.123Z +1.234 qmp => {})"),
           std::string(R"(2026-11-23T09:10:00.123Z +1.234 qmp ->{})"),
           std::string("2026-11-23T09:10:00.123Z +1.234 qmp -> {}\r"),     // raw CR
           std::string(R"(2026-11-23T09:10:00.123Z +1.234 qmp -> a\q)"),    // unknown escape
           std::string(R"(2026-11-23T09:10:00.123Z +1.234 qmp -> a\x4)"),   // short escape
           std::string(R"(2026-11-23T09:10:00.123Z +1.234 qmp -> a\)"),     // dangling
       }) {
    EXPECT_FALSE(ParseTranscriptLine(bad)) << bad;
  }
  auto e = ParseTranscriptLine(R"(2026-11-23T09:10:00.123Z +0.000 scenario -- a\nb\\n\x1b)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->text, "a\nb\\n\x1b");
}

}  // namespace
}  // namespace cpuhp
