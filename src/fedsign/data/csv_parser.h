// Reading of the GTSRB annotation CSVs (',' in the Kaggle mirror, ';' in the official download).
//
// Columns are looked up by header name, so column order does not matter. Handles CRLF line
// endings, a UTF-8 byte-order mark, surrounding quotes/spaces and trailing blank lines. Every
// error is one line naming the file (as given by `display_name`) and the 1-based line.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fedsign::data {

struct CsvRow {
  int line = 0;  // 1-based line number in the file
  std::vector<std::string> fields;
};

class CsvFile {
 public:
  // Reads and splits `file`; the delimiter is ';' if the header contains one, else ','.
  // `display_name` is used in error messages (e.g. "Train.csv").
  static CsvFile read(const std::filesystem::path& file, std::string display_name);

  const std::string& display_name() const { return display_name_; }
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<CsvRow>& rows() const { return rows_; }
  char delimiter() const { return delimiter_; }

  bool has_column(std::string_view name) const { return find_column(name) >= 0; }
  int find_column(std::string_view name) const;  // -1 if absent (case-insensitive)
  int column(std::string_view name) const;       // throws "file:1: missing column 'name'"

  // Field accessors that throw "file:line: <column> is not an integer: 'x'".
  int int_field(const CsvRow& row, int column) const;
  const std::string& text_field(const CsvRow& row, int column) const;

  // "file:line" for messages about a row.
  std::string where(const CsvRow& row) const;

 private:
  std::string display_name_;
  char delimiter_ = ',';
  std::vector<std::string> header_;
  std::vector<CsvRow> rows_;
};

}  // namespace fedsign::data
