#include "fedsign/data/csv_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "fedsign/core/check.h"

namespace fedsign::data {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string> split(std::string_view line, char delimiter) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(delimiter, start);
    fields.emplace_back(trim(line.substr(start, end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return fields;
}

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

CsvFile CsvFile::read(const std::filesystem::path& file, std::string display_name) {
  CsvFile csv;
  csv.display_name_ = std::move(display_name);
  std::ifstream in(file, std::ios::binary);
  FEDSIGN_CHECK(in.good(), "{}: cannot open annotation file", csv.display_name_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  std::string_view rest = text;
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 BOM
  int line_number = 0;
  bool have_header = false;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (blank(line)) continue;  // blank lines (typically trailing) carry no record
    if (!have_header) {
      csv.delimiter_ = line.find(';') != std::string_view::npos ? ';' : ',';
      csv.header_ = split(line, csv.delimiter_);
      have_header = true;
      continue;
    }
    CsvRow row{line_number, split(line, csv.delimiter_)};
    FEDSIGN_CHECK(row.fields.size() == csv.header_.size(), "{}:{}: expected {} fields, got {}",
                  csv.display_name_, line_number, csv.header_.size(), row.fields.size());
    csv.rows_.push_back(std::move(row));
  }
  FEDSIGN_CHECK(have_header, "{}: empty annotation file (no header line)", csv.display_name_);
  return csv;
}

int CsvFile::find_column(std::string_view name) const {
  for (std::size_t i = 0; i < header_.size(); ++i) {
    if (iequals(header_[i], name)) return static_cast<int>(i);
  }
  return -1;
}

int CsvFile::column(std::string_view name) const {
  const int index = find_column(name);
  if (index < 0) {
    std::string columns;
    for (const auto& h : header_) columns += (columns.empty() ? "" : std::string(1, delimiter_)) + h;
    FEDSIGN_FAIL("{}:1: missing column '{}' (header is '{}')", display_name_, name, columns);
  }
  return index;
}

int CsvFile::int_field(const CsvRow& row, int column) const {
  const std::string& text = row.fields.at(column);
  int value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  const auto [ptr, ec] = std::from_chars(first, last, value);
  FEDSIGN_CHECK(ec == std::errc() && ptr == last && first != last,
                "{}: {} is not an integer: '{}'", where(row), header_.at(column), text);
  return value;
}

const std::string& CsvFile::text_field(const CsvRow& row, int column) const {
  return row.fields.at(column);
}

std::string CsvFile::where(const CsvRow& row) const {
  return fmt::format("{}:{}", display_name_, row.line);
}

}  // namespace fedsign::data
