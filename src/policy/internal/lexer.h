// Splits rule-file text into tokens. Words run over letters, digits, '_',
// '-' and single dots, so "us.3a090.oct2023", "chip.tpp", "2023-11-17",
// "5.92" and "1e26" are each one word; the lexer then tells dates and
// numbers from names. ".." is its own token ("2023-11-17 ..").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace straits::policy::internal {

enum class TokenKind {
  kWord,    // a name, keyword or attribute
  kNumber,  // number
  kDate,    // YYYY-MM-DD, or an instant YYYY-MM-DDTHH:MM[:SS]Z
  kString,  // "..." with escapes resolved
  kLBrace,
  kRBrace,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDotDot,
  kAssign,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kEnd,
  kInvalid,  // text: what is wrong
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  double number = 0;
  int line = 0;
  int column = 0;
};

// Lexes the whole text; problems become kInvalid tokens that the parser reports.
std::vector<Token> lex(std::string_view text);

std::string describe(const Token& token);

}  // namespace straits::policy::internal
