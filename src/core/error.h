// Errors as values: an Error carries a code, a message and, for input files,
// where the problem is (file:line:column). Result<T> holds a T or an Error.
//
// Libraries return Result; only the edges (cli, api) turn an Error into an
// exit code, an HTTP status or a printed message. Domain outcomes (a denied
// decision, a job that cannot be placed yet) are values, never Errors.
//
// Member names follow std::expected (has_value, value, error, value_or) so a
// later move to C++23 is a rename.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace straits {

// Trimmed from Abseil's canonical codes; each says what the caller can do.
enum class ErrorCode : std::uint8_t {
  kInvalidArgument,     // the input is bad in itself: fix the input
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // creating something whose id is taken
  kFailedPrecondition,  // the system's state forbids the call now
  kConflict,            // a concurrent change or an over-commitment
  kPermissionDenied,    // authenticated, but not allowed
  kUnauthenticated,     // no or bad credentials
  kResourceExhausted,   // a quota or a limit is reached
  kUnavailable,         // transient: retry later
  kInternal,            // a bug or an environment failure
};

std::string_view to_string(ErrorCode code);

// A place in a text input. Lines and columns count from 1; 0 means unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
  friend auto operator<=>(const SourceLocation&, const SourceLocation&) = default;
};

// "file:line:column", "file:line" or "file", whichever parts are known.
std::string to_string(const SourceLocation& where);

// One problem found in an input, as a compiler would print it.
struct Diagnostic {
  SourceLocation where;
  std::string message;

  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

// "file:line:column: message".
std::string to_string(const Diagnostic& diagnostic);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(ErrorCode code, std::string message, SourceLocation where)
      : code_(code), message_(std::move(message)), where_(std::move(where)) {}

  // An error that stands for every problem found in one input (a catalog, a
  // rule pack): message is a summary, diagnostics lists them all, sorted.
  static Error invalid_input(std::string summary, std::vector<Diagnostic> diagnostics);

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<SourceLocation>& where() const { return where_; }
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

  // Adds context in front of the message: "loading pack x: <message>".
  Error with_context(std::string_view context) &&;

  // The message, prefixed by its location, followed by one line for each
  // diagnostic.
  std::string to_string() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::optional<SourceLocation> where_;
  std::vector<Diagnostic> diagnostics_;
};

// Collects every problem in an input before giving up, so that a user fixes
// them all in one pass.
class Diagnostics {
 public:
  void add(SourceLocation where, std::string message);
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  // Sorted by file, line and column; duplicates removed.
  std::vector<Diagnostic> sorted() const;
  // An InvalidArgument error holding every diagnostic.
  Error to_error(std::string summary) const;

 private:
  std::vector<Diagnostic> items_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit, like std::expected
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok() {
  return {};
}

}  // namespace straits

#define STRAITS_CONCAT_INNER_(a, b) a##b
#define STRAITS_CONCAT_(a, b) STRAITS_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result) from the enclosing function.
#define STRAITS_TRY(expr)                            \
  do {                                               \
    auto&& straits_try_result_ = (expr);             \
    if (!straits_try_result_) {                      \
      return std::move(straits_try_result_).error(); \
    }                                                \
  } while (false)

// Declares or assigns `lhs` from the value of `expr`, or returns its error.
#define STRAITS_ASSIGN_OR_RETURN(lhs, expr) \
  STRAITS_ASSIGN_OR_RETURN_IMPL_(STRAITS_CONCAT_(straits_result_, __LINE__), lhs, expr)
#define STRAITS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp) {                                          \
    return std::move(tmp).error();                     \
  }                                                    \
  lhs = std::move(tmp).value()
