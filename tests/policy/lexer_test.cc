#include "policy/internal/lexer.h"

#include <gtest/gtest.h>

namespace straits::policy::internal {
namespace {

std::vector<TokenKind> kinds(const std::vector<Token>& tokens) {
  std::vector<TokenKind> out;
  for (const auto& t : tokens) out.push_back(t.kind);
  return out;
}

TEST(LexerTest, WordsKeepDotsAndDashesButNotDotDot) {
  auto t = lex("rule us.3a090.oct2023 { effective 2023-11-17 .. 2024-01-01 }");
  ASSERT_EQ(t.size(), 9u);
  EXPECT_EQ(t[1].kind, TokenKind::kWord);
  EXPECT_EQ(t[1].text, "us.3a090.oct2023");
  EXPECT_EQ(t[4].kind, TokenKind::kDate);
  EXPECT_EQ(t[5].kind, TokenKind::kDotDot);
  EXPECT_EQ(t[6].kind, TokenKind::kDate);
  auto tight = lex("2023-11-17..2024-01-01");
  EXPECT_EQ(kinds(tight), (std::vector<TokenKind>{TokenKind::kDate, TokenKind::kDotDot,
                                                  TokenKind::kDate, TokenKind::kEnd}));
}

TEST(LexerTest, NumbersStringsAndOperators) {
  auto t = lex("chip.pd >= 5.92 and x == 1e26 or y != 4_800 # comment\n\"a \\\"q\\\"\"");
  EXPECT_EQ(t[0].text, "chip.pd");
  EXPECT_EQ(t[1].kind, TokenKind::kGe);
  EXPECT_EQ(t[2].kind, TokenKind::kNumber);
  EXPECT_DOUBLE_EQ(t[2].number, 5.92);
  EXPECT_DOUBLE_EQ(t[6].number, 1e26);
  EXPECT_EQ(t[9].kind, TokenKind::kNe);
  EXPECT_DOUBLE_EQ(t[10].number, 4800);
  EXPECT_EQ(t[11].kind, TokenKind::kString);
  EXPECT_EQ(t[11].text, "a \"q\"");
  EXPECT_EQ(t[11].line, 2);
  EXPECT_EQ(t[11].column, 1);
}

TEST(LexerTest, ReportsBadInputAsInvalidTokensWithPlaces) {
  auto t = lex("title \"open\n  @ 2023-13");
  EXPECT_EQ(t[1].kind, TokenKind::kInvalid);
  EXPECT_NE(t[1].text.find("unterminated string"), std::string::npos);
  EXPECT_EQ(t[2].kind, TokenKind::kInvalid);
  EXPECT_EQ(t[2].line, 2);
  EXPECT_EQ(t[2].column, 3);
  EXPECT_EQ(t[3].kind, TokenKind::kInvalid);
  EXPECT_NE(t[3].text.find("malformed number or date '2023-13'"), std::string::npos);
}

}  // namespace
}  // namespace straits::policy::internal
