// Minimal CSV writing for metrics files (RFC 4180 quoting); writes are atomic.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fedsign::report {

class CsvTable {
 public:
  explicit CsvTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row);
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  std::string to_string() const;
  void save(const std::filesystem::path& file) const;  // atomic

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string csv_escape(const std::string& field);

}  // namespace fedsign::report
