// Small text helpers shared by every parser: "did you mean" suggestions, and
// quoting for the POSIX shell.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace straits {

// Levenshtein distance (insert, delete, substitute), case-sensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely
// typo (distance <= max(1, size/3)); ties go to the earliest candidate, so
// the answer does not depend on anything but the candidates' order.
std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string> candidates);

// " (did you mean 'x'?)" or "" when nothing is close.
std::string did_you_mean(std::string_view word, std::span<const std::string> candidates);

// `text` as one word of the POSIX shell: in single quotes, each ' written
// '\'' ("it's" -> 'it'\''s'). Nothing inside single quotes is expanded, so the
// word reaches the program as it is, whatever it holds (NUL aside).
std::string shell_quote(std::string_view text);

}  // namespace straits
