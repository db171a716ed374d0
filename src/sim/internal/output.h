// An output file written through a large buffer: the simulator writes rows
// as they happen (millions of them in a big run) instead of keeping them.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.h"

namespace straits::sim::internal {

class OutputFile {
 public:
  OutputFile() = default;
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Creates (or truncates) the file.
  Status open(const std::filesystem::path& path);
  void write(std::string_view text);
  // For rows built in place (no copy): append a row to row(), then call
  // end_row(), which writes the buffer out when it is full.
  std::string& row() { return buffer_; }
  void end_row() {
    if (buffer_.size() >= kBufferBytes) flush();
  }
  // Flushes and closes; says whether any write failed (a full disk).
  Status close();
  bool is_open() const { return file_ != nullptr; }

 private:
  void flush();
  static constexpr std::size_t kBufferBytes = 1 << 20;

  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
  std::string buffer_;
  bool failed_ = false;
};

}  // namespace straits::sim::internal
