#include "fedsign/report/csv.h"

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::report {

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void CsvTable::add_row(std::vector<std::string> row) {
  FEDSIGN_CHECK(row.size() == header_.size(), "CSV row has {} fields, header has {}", row.size(),
                header_.size());
  rows_.push_back(std::move(row));
}

std::string CsvTable::to_string() const {
  std::string out;
  auto append = [&out](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) out += ',';
      out += csv_escape(fields[i]);
    }
    out += '\n';
  };
  append(header_);
  for (const auto& row : rows_) append(row);
  return out;
}

void CsvTable::save(const std::filesystem::path& file) const {
  write_text_atomically(file, to_string());
}

}  // namespace fedsign::report
