// CsvFileReader reads in 1 MiB chunks: across chunk ends it must give the
// rows and line numbers split_csv gives for the whole file.
#include <gtest/gtest.h>

#include <fstream>

#include "policy/temp_dir.h"
#include "sim/internal/csv.h"

namespace straits::sim::internal {
namespace {

using testing_util::TempDir;

TEST(CsvFileReaderTest, ChunksGiveTheRowsAndLinesOfTheWholeFile) {
  // About 3 MiB: rows with quoted commas, quotes and line breaks, so that
  // chunk ends fall inside quoted fields as well as between rows.
  std::string text = "id,note,value\n";
  for (int i = 0; i < 60000; ++i) {
    text += "job-" + std::to_string(i) + ",";
    switch (i % 4) {
      case 0: text += "plain"; break;
      case 1: text += "\"with, a comma\""; break;
      case 2: text += "\"two\nlines and a \"\"quote\"\"\""; break;
      default: text += "\"" + std::string(static_cast<std::size_t>(i % 97), 'x') + "\n\""; break;
    }
    text += "," + std::to_string(i * 0.5) + "\n";
  }
  TempDir dir("csv-reader");
  auto path = dir.write("big.csv", text);
  Diagnostics whole_problems;
  const auto whole = split_csv(text, path.string(), whole_problems);
  ASSERT_TRUE(whole_problems.empty());
  ASSERT_EQ(whole.size(), 60001u);

  CsvFileReader csv;
  ASSERT_TRUE(csv.open(path, {"id", "value"}));
  std::size_t k = 1;
  while (const CsvRecord* row = csv.next()) {
    ASSERT_LT(k, whole.size());
    EXPECT_EQ(row->fields, whole[k].fields) << "row " << k;
    EXPECT_EQ(row->line, whole[k].line) << "row " << k;
    EXPECT_DOUBLE_EQ(csv.number(*row, "value"), static_cast<double>(k - 1) * 0.5);
    ++k;
  }
  EXPECT_EQ(k, whole.size());
  EXPECT_TRUE(csv.finish());
}

TEST(CsvFileReaderTest, ReportsBadCellsAndShortRowsWithTheirLines) {
  TempDir dir("csv-reader-bad");
  auto path = dir.write("t.csv", "at,n\n2026-01-01,1\nnot a date,2\n3\n2026-01-02,x\n");
  CsvFileReader csv;
  ASSERT_TRUE(csv.open(path, {"at", "n"}));
  int rows = 0;
  while (const CsvRecord* row = csv.next()) {
    ++rows;
    csv.instant(*row, "at");
    csv.number(*row, "n");
  }
  EXPECT_EQ(rows, 3);  // the short row is skipped
  Status s = csv.finish();
  ASSERT_FALSE(s);
  const std::string file = path.string();
  const std::string text = s.error().to_string();
  EXPECT_NE(text.find(file + ":3: 'at': "), std::string::npos) << text;
  EXPECT_NE(text.find(file + ":4: expected 2 fields as in the header, got 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find(file + ":5: 'n' must be a number, got 'x'"), std::string::npos) << text;

  CsvFileReader missing_column;
  Status header = missing_column.open(path, {"at", "pool"});
  ASSERT_FALSE(header);
  EXPECT_NE(header.error().to_string().find(file + ":1: missing column 'pool'"), std::string::npos);
  CsvFileReader missing_file;
  Status none = missing_file.open(dir.path() / "none.csv", {"at"});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace straits::sim::internal
