#include "fedsign/report/report_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::report {
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

bool is_relative_link(const std::string& target) {
  return !target.empty() && target[0] != '/' && target[0] != '#' &&
         target.find("://") == std::string::npos;
}

// "# A" -> "### A" (the run's own heading is level 2); links relative to the run dir are
// rebased under `prefix`/.
std::string adapt_markdown(const std::string& text, const std::string& prefix) {
  static const std::regex link(R"((!?\[[^\]]*\])\(([^)\s]+)\))");
  std::string out;
  bool in_code = false;
  for (std::string line : split_lines(text)) {
    if (line.starts_with("```")) in_code = !in_code;
    if (!in_code) {
      if (line.starts_with("#")) line = "##" + line;
      std::string rebased;
      auto begin = std::sregex_iterator(line.begin(), line.end(), link);
      std::size_t last = 0;
      for (auto it = begin; it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        rebased += line.substr(last, static_cast<std::size_t>(m.position()) - last);
        const std::string target = m[2].str();
        rebased += m[1].str() + "(" + (is_relative_link(target) ? prefix + "/" + target : target) + ")";
        last = static_cast<std::size_t>(m.position() + m.length());
      }
      line = rebased + line.substr(last);
    }
    out += line + "\n";
  }
  return out;
}

std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Inline Markdown of one (unescaped) line to HTML.
std::string inline_html(const std::string& text) {
  std::string s = escape_html(text);
  static const std::regex image(R"(!\[([^\]]*)\]\(([^)\s]+)\))");
  static const std::regex anchor(R"(\[([^\]]+)\]\(([^)\s]+)\))");
  static const std::regex code("`([^`]+)`");
  static const std::regex bold(R"(\*\*([^*]+)\*\*)");
  s = std::regex_replace(s, image, R"(<img src="$2" alt="$1">)");
  s = std::regex_replace(s, anchor, R"(<a href="$2">$1</a>)");
  s = std::regex_replace(s, code, "<code>$1</code>");
  s = std::regex_replace(s, bold, "<strong>$1</strong>");
  return s;
}

std::vector<std::string> table_cells(const std::string& line) {
  std::string body = line;
  if (body.starts_with("|")) body.erase(0, 1);
  if (body.ends_with("|")) body.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  for (char c : body) {
    if (c == '|') {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(cell);
  for (auto& c : cells) {
    const auto b = c.find_first_not_of(' '), e = c.find_last_not_of(' ');
    c = b == std::string::npos ? "" : c.substr(b, e - b + 1);
  }
  return cells;
}

bool is_separator_row(const std::string& line) {
  return line.starts_with("|") && line.find("---") != std::string::npos &&
         line.find_first_not_of("|-: ") == std::string::npos;
}

std::string detect_kind(const fs::path& dir) {
  if (fs::exists(dir / "transfer.md")) return "transfer";
  if (fs::exists(dir / "bench.json") || fs::exists(dir / "detections.json")) return "detect";
  if (fs::exists(dir / "cam.json")) return "cam";
  if (fs::exists(dir / "rounds.csv") || fs::exists(dir / "fl.json")) return "fl";
  if (fs::exists(dir / "metrics.csv") && fs::exists(dir / "model.pt")) return "train";
  return "run";
}

// The MIME type of an image file by extension; "" for files not inlined.
std::string image_mime_type(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".gif") return "image/gif";
  if (ext == ".svg") return "image/svg+xml";
  return "";
}

// Every <img src="RELATIVE"> whose file exists under `base` becomes a data: URI, so the page
// needs no file beside it. Other sources (absolute URLs, missing files) are left as they are.
std::string inline_images(const std::string& html, const fs::path& base) {
  static const std::regex img_src(R"re(<img src="([^"]*)")re");
  std::string out;
  auto last = html.cbegin();
  for (std::sregex_iterator it(html.begin(), html.end(), img_src), end; it != end; ++it) {
    const std::string src = (*it)[1].str();
    out.append(last, html.cbegin() + it->position(1));
    last = html.cbegin() + it->position(1) + it->length(1);
    std::string path = std::regex_replace(src, std::regex("&amp;"), "&");
    const fs::path file = base / path;
    const std::string mime = image_mime_type(file);
    std::error_code ec;
    if (src.find(':') != std::string::npos || mime.empty() || !fs::is_regular_file(file, ec)) {
      out += src;
      continue;
    }
    out += "data:" + mime + ";base64," + base64_encode(read_text(file));
  }
  out.append(last, html.cend());
  return out;
}

constexpr const char* kCss =
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
    "th{background:#f3f3f3}td.num{text-align:right}img{max-width:48%;margin:4px;"
    "vertical-align:top}.gallery img{max-width:32%}code{background:#f3f3f3;padding:0 3px}"
    "pre{background:#f6f6f6;padding:8px;overflow-x:auto}h2{border-bottom:2px solid #ddd}";

}  // namespace

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {  // 1 or 2 bytes, padded with '='
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string csv_to_markdown(const std::string& csv_text, std::size_t max_rows) {
  auto lines = split_lines(csv_text);
  lines.erase(std::remove_if(lines.begin(), lines.end(), [](const auto& l) { return l.empty(); }),
              lines.end());
  if (lines.empty()) return "";
  const auto header = parse_csv_line(lines[0]);
  std::string md = "| " + fmt::format("{}", fmt::join(header, " | ")) + " |\n|";
  for (std::size_t i = 0; i < header.size(); ++i) md += "---|";
  md += "\n";
  const std::size_t rows = lines.size() - 1;
  for (std::size_t i = 1 + (rows > max_rows ? rows - max_rows : 0); i < lines.size(); ++i) {
    md += "| " + fmt::format("{}", fmt::join(parse_csv_line(lines[i]), " | ")) + " |\n";
  }
  return md;
}

std::string markdown_to_html(const std::string& markdown) {
  std::string html;
  const auto lines = split_lines(markdown);
  std::string paragraph;
  auto flush = [&] {
    if (!paragraph.empty()) html += "<p>" + paragraph + "</p>\n";
    paragraph.clear();
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.starts_with("```")) {
      flush();
      html += "<pre><code>";
      for (++i; i < lines.size() && !lines[i].starts_with("```"); ++i) {
        html += escape_html(lines[i]) + "\n";
      }
      html += "</code></pre>\n";
    } else if (line.starts_with("#")) {
      flush();
      const auto level = std::min<std::size_t>(6, line.find_first_not_of('#'));
      const auto text = line.substr(line.find_first_not_of("# ") == std::string::npos
                                        ? line.size()
                                        : line.find_first_not_of("# "));
      html += fmt::format("<h{0}>{1}</h{0}>\n", level, inline_html(text));
    } else if (line.starts_with("|")) {
      flush();
      html += "<table>\n";
      bool header = i + 1 < lines.size() && is_separator_row(lines[i + 1]);
      for (; i < lines.size() && lines[i].starts_with("|"); ++i) {
        if (is_separator_row(lines[i])) continue;
        html += "<tr>";
        for (const auto& cell : table_cells(lines[i])) {
          const bool numeric = !cell.empty() && cell.find_first_not_of("0123456789.,%+-e s/") ==
                                                    std::string::npos;
          html += header ? "<th>" + inline_html(cell) + "</th>"
                         : (numeric ? "<td class=\"num\">" : "<td>") + inline_html(cell) + "</td>";
        }
        html += "</tr>\n";
        header = false;
      }
      --i;
      html += "</table>\n";
    } else if (line.starts_with("- ") || line.starts_with("* ")) {
      flush();
      html += "<ul>\n";
      for (; i < lines.size() && (lines[i].starts_with("- ") || lines[i].starts_with("* ")); ++i) {
        html += "<li>" + inline_html(lines[i].substr(2)) + "</li>\n";
      }
      --i;
      html += "</ul>\n";
    } else if (line.find_first_not_of(' ') == std::string::npos) {
      flush();
    } else {
      paragraph += (paragraph.empty() ? "" : "\n") + inline_html(line);
    }
  }
  flush();
  return html;
}

RunSection scan_run(const fs::path& dir, const std::string& name) {
  FEDSIGN_CHECK(fs::is_directory(dir), "{}: not a run directory", dir.string());
  RunSection run;
  run.name = name;
  run.dir = dir;
  run.kind = detect_kind(dir);
  std::vector<fs::path> md_files, top_png, sub_png;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto& p = entry.path();
    if (entry.is_regular_file() && p.extension() == ".md") md_files.push_back(p);
    if (entry.is_regular_file() && p.extension() == ".png") top_png.push_back(p.filename());
    if (entry.is_directory()) {
      for (const auto& sub : fs::directory_iterator(p)) {
        if (sub.is_regular_file() && sub.path().extension() == ".png") {
          sub_png.push_back(p.filename() / sub.path().filename());
        }
      }
    }
  }
  // summary.md first, then the rest by name.
  std::sort(md_files.begin(), md_files.end(), [](const fs::path& a, const fs::path& b) {
    const bool sa = a.filename() == "summary.md", sb = b.filename() == "summary.md";
    return sa != sb ? sa : a.filename() < b.filename();
  });
  for (const auto& f : md_files) run.markdown.push_back(adapt_markdown(read_text(f), name));
  if (fs::exists(dir / "metrics.csv")) {
    run.metrics_table = csv_to_markdown(read_text(dir / "metrics.csv"), 5);
  }
  std::sort(top_png.begin(), top_png.end());
  std::sort(sub_png.begin(), sub_png.end());
  run.images = top_png;
  run.images.insert(run.images.end(), sub_png.begin(), sub_png.end());
  return run;
}

ReportFiles build_report(const std::vector<fs::path>& run_dirs, const fs::path& out_dir,
                         const ReportOptions& options) {
  FEDSIGN_CHECK(!run_dirs.empty(), "report: no run directories given");
  fs::create_directories(out_dir);
  std::vector<RunSection> runs;
  std::set<std::string> used;
  for (const auto& dir : run_dirs) {
    FEDSIGN_CHECK(fs::is_directory(dir), "{}: not a run directory", dir.string());
    std::string base = fs::absolute(dir).lexically_normal().filename().string();
    if (base.empty()) base = fs::absolute(dir).lexically_normal().parent_path().filename().string();
    if (base.empty()) base = "run";
    std::string name = base;
    for (int k = 2; used.count(name); ++k) name = fmt::format("{}-{}", base, k);
    used.insert(name);
    runs.push_back(scan_run(dir, name));
  }

  ReportFiles files;
  files.markdown = out_dir / "report.md";
  files.html = out_dir / "report.html";
  std::string md = "# " + options.title + "\n\n";
  for (const auto& run : runs) {
    md += fmt::format("- [{}](#{}) ({}): `{}`\n", run.name, run.name, run.kind, run.dir.string());
  }
  md += "\n";
  std::string html_body;
  for (const auto& run : runs) {
    std::string section = fmt::format("## {}\n\n{} run, `{}`\n\n", run.name, run.kind,
                                      run.dir.string());
    std::set<std::string> referenced;
    for (const auto& text : run.markdown) {
      section += text + "\n";
      for (const auto& image : run.images) {
        if (text.find(run.name + "/" + image.generic_string()) != std::string::npos) {
          referenced.insert(image.generic_string());
        }
      }
    }
    if (!run.metrics_table.empty()) {
      section += "Last rows of `metrics.csv`:\n\n" + run.metrics_table + "\n";
    }
    std::string gallery_md, gallery_html;
    for (const auto& image : run.images) {
      const fs::path target = out_dir / run.name / image;
      fs::create_directories(target.parent_path());
      fs::copy_file(run.dir / image, target, fs::copy_options::overwrite_existing);
      ++files.images;
      const std::string link = run.name + "/" + image.generic_string();
      if (referenced.count(image.generic_string())) continue;
      gallery_md += fmt::format("![{}]({}) ", image.generic_string(), link);
      gallery_html += fmt::format("<img src=\"{}\" alt=\"{}\" title=\"{}\">", escape_html(link),
                                  escape_html(image.generic_string()),
                                  escape_html(image.generic_string()));
    }
    if (!gallery_md.empty()) section += "Plots:\n\n";
    md += section + (gallery_md.empty() ? "" : gallery_md + "\n\n");
    // HTML: the same section, with the gallery as a block of thumbnails side by side.
    html_body += fmt::format("<section id=\"{}\">\n", escape_html(run.name)) +
                 markdown_to_html(section) +
                 (gallery_html.empty() ? "" : "<div class=\"gallery\">" + gallery_html + "</div>\n") +
                 "</section>\n";
  }
  write_text_atomically(files.markdown, md);
  const std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + escape_html(options.title) +
      "</title><style>" + kCss + "</style></head><body>\n" +
      markdown_to_html("# " + options.title + "\n") + "<ul>\n" +
      [&] {
        std::string toc;
        for (const auto& run : runs) {
          toc += fmt::format("<li><a href=\"#{0}\">{0}</a> ({1})</li>\n", escape_html(run.name),
                             run.kind);
        }
        return toc;
      }() +
      "</ul>\n" + html_body + "</body></html>\n";
  write_text_atomically(files.html, inline_images(html, out_dir));
  files.runs = static_cast<int>(runs.size());
  return files;
}

}  // namespace fedsign::report
