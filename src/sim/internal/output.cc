#include "sim/internal/output.h"

#include <cerrno>
#include <cstring>

namespace straits::sim::internal {
OutputFile::~OutputFile() {
  if (file_ != nullptr) std::fclose(file_);
}

Status OutputFile::open(const std::filesystem::path& path) {
  if (file_ != nullptr) std::fclose(file_);
  path_ = path;
  failed_ = false;
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    return Error(ErrorCode::kUnavailable,
                 "cannot write " + path.string() + ": " + std::strerror(errno));
  }
  buffer_.clear();
  buffer_.reserve(kBufferBytes);
  return ok();
}

void OutputFile::write(std::string_view text) {
  buffer_.append(text);
  if (buffer_.size() >= kBufferBytes) flush();
}

void OutputFile::flush() {
  if (file_ == nullptr || buffer_.empty()) return;
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) failed_ = true;
  buffer_.clear();
}

Status OutputFile::close() {
  if (file_ == nullptr) return ok();
  flush();
  if (std::fclose(file_) != 0) failed_ = true;
  file_ = nullptr;
  if (failed_) return Error(ErrorCode::kUnavailable, "could not write all of " + path_.string());
  return ok();
}

}  // namespace straits::sim::internal
