#include "policy/internal/lexer.h"

#include <cstdlib>

namespace straits::policy::internal {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool looks_like_date(std::string_view w) {
  if (w.size() != 10 || w[4] != '-' || w[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!is_digit(w[i])) return false;
  }
  return true;
}

// The length of an instant "YYYY-MM-DDTHH:MM[:SS]Z" at the start of `text`,
// 0 when there is none. Rule sets adopted while the server runs take effect
// at an instant, not only at midnight, so their dates may carry a time of
// day (always UTC: the Z is required, no offsets).
std::size_t instant_length(std::string_view text) {
  auto digits = [&](std::size_t from, std::size_t n) {
    if (from + n > text.size()) return false;
    for (std::size_t k = from; k < from + n; ++k) {
      if (!is_digit(text[k])) return false;
    }
    return true;
  };
  if (text.size() < 17 || !looks_like_date(text.substr(0, 10)) || text[10] != 'T' ||
      !digits(11, 2) || text[13] != ':' || !digits(14, 2)) {
    return 0;
  }
  std::size_t end = 16;
  if (end < text.size() && text[end] == ':') {
    if (!digits(end + 1, 2)) return 0;
    end += 3;
  }
  if (end >= text.size() || text[end] != 'Z') return 0;
  return end + 1;
}

// A number: digits with optional '_' separators, optional fraction and exponent.
bool parse_number(std::string_view w, double& out) {
  std::string cleaned;
  for (char c : w) {
    if (c != '_') cleaned += c;
  }
  if (cleaned.empty() || !is_digit(cleaned[0])) return false;
  char* end = nullptr;
  out = std::strtod(cleaned.c_str(), &end);
  return end == cleaned.c_str() + cleaned.size();
}

}  // namespace

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kWord: return "'" + token.text + "'";
    case TokenKind::kNumber: return "number " + token.text;
    case TokenKind::kDate: return "date " + token.text;
    case TokenKind::kString: return "string \"" + token.text + "\"";
    case TokenKind::kEnd: return "end of file";
    case TokenKind::kInvalid: return token.text;
    default: return "'" + token.text + "'";
  }
}

std::vector<Token> lex(std::string_view text) {
  std::vector<Token> tokens;
  int line = 1;
  std::size_t line_start = 0;
  std::size_t i = 0;
  auto push = [&](TokenKind kind, std::string s, std::size_t at) {
    Token t;
    t.kind = kind;
    t.text = std::move(s);
    t.line = line;
    t.column = static_cast<int>(at - line_start) + 1;
    tokens.push_back(std::move(t));
    return &tokens.back();
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    std::size_t start = i;
    if (c == '"') {
      std::string s;
      ++i;
      bool closed = false;
      while (i < text.size() && text[i] != '\n') {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) {
          s += text[i + 1];
          i += 2;
          continue;
        }
        if (text[i] == '"') {
          closed = true;
          ++i;
          break;
        }
        s += text[i++];
      }
      if (!closed) {
        push(TokenKind::kInvalid, "unterminated string (a string ends with '\"' on its line)",
             start);
      } else {
        push(TokenKind::kString, std::move(s), start);
      }
      continue;
    }
    if (std::size_t n = is_digit(c) ? instant_length(text.substr(i)) : 0; n > 0) {
      i += n;
      push(TokenKind::kDate, std::string(text.substr(start, n)), start);
      continue;
    }
    if (is_word_char(c)) {
      // Words take single dots, never "..": "2023-11-17..2024" is date, .., number.
      while (i < text.size()) {
        if (is_word_char(text[i])) {
          ++i;
        } else if (text[i] == '.' && i + 1 < text.size() && text[i + 1] != '.' &&
                   is_word_char(text[i + 1])) {
          ++i;
        } else {
          break;
        }
      }
      std::string word(text.substr(start, i - start));
      double number = 0;
      if (looks_like_date(word)) {
        push(TokenKind::kDate, std::move(word), start);
      } else if (is_digit(word[0]) && word.find('-') == std::string::npos &&
                 parse_number(word, number)) {
        Token* token = push(TokenKind::kNumber, word, start);
        token->number = number;
      } else if (is_digit(word[0]) && word.find('.') == std::string::npos &&
                 word.find_first_not_of("0123456789_-") == std::string::npos) {
        push(TokenKind::kInvalid, "malformed number or date '" + word + "'", start);
      } else {
        push(TokenKind::kWord, std::move(word), start);
      }
      continue;
    }
    auto two = text.substr(i, 2);
    if (two == "..") {
      push(TokenKind::kDotDot, "..", start);
      i += 2;
      continue;
    }
    if (two == "==") {
      push(TokenKind::kEq, "==", start);
      i += 2;
      continue;
    }
    if (two == "!=") {
      push(TokenKind::kNe, "!=", start);
      i += 2;
      continue;
    }
    if (two == "<=") {
      push(TokenKind::kLe, "<=", start);
      i += 2;
      continue;
    }
    if (two == ">=") {
      push(TokenKind::kGe, ">=", start);
      i += 2;
      continue;
    }
    ++i;
    switch (c) {
      case '{': push(TokenKind::kLBrace, "{", start); break;
      case '}': push(TokenKind::kRBrace, "}", start); break;
      case '(': push(TokenKind::kLParen, "(", start); break;
      case ')': push(TokenKind::kRParen, ")", start); break;
      case '[': push(TokenKind::kLBracket, "[", start); break;
      case ']': push(TokenKind::kRBracket, "]", start); break;
      case ',': push(TokenKind::kComma, ",", start); break;
      case '<': push(TokenKind::kLt, "<", start); break;
      case '>': push(TokenKind::kGt, ">", start); break;
      case '=': push(TokenKind::kAssign, "=", start); break;
      default: {
        std::string shown =
            (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                ? "byte " + std::to_string(static_cast<unsigned char>(c))
                : std::string("'") + c + "'";
        push(TokenKind::kInvalid, "unexpected character " + shown, start);
      }
    }
  }
  Token end;
  end.kind = TokenKind::kEnd;
  end.line = line;
  end.column = static_cast<int>(i - line_start) + 1;
  tokens.push_back(end);
  return tokens;
}

}  // namespace straits::policy::internal
