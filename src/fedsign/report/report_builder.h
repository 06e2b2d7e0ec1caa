// One report over several run directories of any kind (train, fl, rare, transfer, detect,
// evaluate, ...): each run's summary tables (its *.md files, the tail of metrics.csv) and its PNG
// charts side by side, as Markdown (report.md, PNGs copied beside it) and as one self-contained
// HTML page (report.html: inline CSS, every image inlined as a base64 data: URI), so a run can
// be shared as one file. No LibTorch.
// Pure functions of the files; not safe to run twice on the same output folder concurrently.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fedsign::report {

struct RunSection {
  std::string name;                      // unique name in the report (the folder name)
  std::filesystem::path dir;
  std::string kind;                      // transfer | detect | train | fl | cam | run
  std::vector<std::string> markdown;     // the run's *.md files, headings demoted, links rebased
  std::string metrics_table;             // Markdown table of metrics.csv's last rows, if any
  std::vector<std::filesystem::path> images;  // PNGs relative to dir (top level and one below)
};

// Reads what a run directory holds; links in its Markdown are rebased under `name`/.
RunSection scan_run(const std::filesystem::path& dir, const std::string& name);

struct ReportOptions {
  std::string title = "fedsign report";
  std::size_t metrics_rows = 5;  // last rows of metrics.csv shown
};

struct ReportFiles {
  std::filesystem::path markdown, html;
  int runs = 0;
  int images = 0;
};

// Writes out_dir/report.md, out_dir/<run>/<png> (for the Markdown) and out_dir/report.html
// (self-contained). Throws fedsign::Error if a run directory does not exist.
ReportFiles build_report(const std::vector<std::filesystem::path>& run_dirs,
                         const std::filesystem::path& out_dir, const ReportOptions& options = {});

// A small Markdown subset to HTML: headings, paragraphs, pipe tables, "-" lists, fenced code,
// inline code, **bold**, links and images. Text is HTML-escaped.
std::string markdown_to_html(const std::string& markdown);

// RFC 4648 base64 (standard alphabet, '=' padding, no line breaks).
std::string base64_encode(std::string_view bytes);

// CSV text (RFC 4180 quoting) to a Markdown table of its header and last `max_rows` rows.
std::string csv_to_markdown(const std::string& csv_text, std::size_t max_rows);

}  // namespace fedsign::report
