#include "core/error.h"

#include <algorithm>

namespace straits {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kFailedPrecondition: return "failed precondition";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kResourceExhausted: return "resource exhausted";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string to_string(const SourceLocation& where) {
  std::string out = where.file;
  if (where.line > 0) {
    out += ':' + std::to_string(where.line);
    if (where.column > 0) out += ':' + std::to_string(where.column);
  }
  return out;
}

std::string to_string(const Diagnostic& diagnostic) {
  std::string where = to_string(diagnostic.where);
  if (where.empty()) return diagnostic.message;
  return where + ": " + diagnostic.message;
}

Error Error::invalid_input(std::string summary, std::vector<Diagnostic> diagnostics) {
  Error error(ErrorCode::kInvalidArgument, std::move(summary));
  error.diagnostics_ = std::move(diagnostics);
  return error;
}

Error Error::with_context(std::string_view context) && {
  message_ = std::string(context) + ": " + message_;
  return std::move(*this);
}

std::string Error::to_string() const {
  std::string out;
  if (where_) {
    std::string where = straits::to_string(*where_);
    if (!where.empty()) out = where + ": ";
  }
  out += message_;
  for (const Diagnostic& diagnostic : diagnostics_) {
    out += '\n';
    out += straits::to_string(diagnostic);
  }
  return out;
}

void Diagnostics::add(SourceLocation where, std::string message) {
  items_.push_back(Diagnostic{std::move(where), std::move(message)});
}

std::vector<Diagnostic> Diagnostics::sorted() const {
  std::vector<Diagnostic> out = items_;
  std::stable_sort(out.begin(), out.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.where < b.where; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Error Diagnostics::to_error(std::string summary) const {
  return Error::invalid_input(std::move(summary), sorted());
}

}  // namespace straits
