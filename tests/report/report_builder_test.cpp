// The report over generated run directories: tables and plots of each run, links rebased,
// PNGs copied, HTML well formed; and the small Markdown/CSV converters.
#include "fedsign/report/report_builder.h"

#include <gtest/gtest.h>

#include "fedsign/core/check.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::report {
namespace {

// A PNG-named file is enough: the report copies files, it does not decode them.
void fake_png(const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  testing::write_text(file, "\x89PNG fake");
}

TEST(ReportBuilder, GathersRunsSideBySide) {
  testing::TempDir tmp;
  const auto train = tmp / "runs" / "train";
  testing::write_text(train / "summary.md", "# Training run\n\n| | |\n|---|---|\n| model | compact |\n");
  testing::write_text(train / "metrics.csv",
                      "epoch,val_accuracy\n1,0.5\n2,0.6\n3,0.7\n4,0.8\n5,0.85\n6,0.9\n7,0.95\n");
  fake_png(train / "loss.png");
  fake_png(train / "accuracy.png");
  const auto transfer = tmp / "runs" / "transfer";
  testing::write_text(transfer / "transfer.md",
                      "# Transfer learning\n\n| mode | test accuracy |\n|---|---:|\n| direct | "
                      "12.00% |\n| finetune | 95.00% |\n\n![accuracy](transfer_accuracy.png)\n");
  fake_png(transfer / "transfer_accuracy.png");
  fake_png(transfer / "finetune" / "loss.png");
  const auto other = tmp / "elsewhere" / "train";  // same folder name: made unique
  testing::write_text(other / "notes.md", "Some *notes* with <html> & `code`.\n");

  const auto files = build_report({train, transfer, other}, tmp / "report");
  EXPECT_EQ(files.runs, 3);
  EXPECT_EQ(files.images, 4);
  const std::string md = testing::read_text(files.markdown);
  const std::string html = testing::read_text(files.html);
  for (const char* s : {"## train", "## transfer", "## train-2", "### Training run",
                        "| finetune | 95.00% |", "![accuracy](transfer/transfer_accuracy.png)",
                        "train/loss.png", "transfer/finetune/loss.png", "| 7 | 0.95 |"}) {
    EXPECT_NE(md.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(md.find("| 2 | 0.6 |"), std::string::npos);  // only the last 5 metrics rows
  EXPECT_EQ(md.find("![transfer_accuracy.png]"), std::string::npos);  // already shown inline
  const std::string inlined_png =
      "<img src=\"data:image/png;base64," + base64_encode("\x89PNG fake") + "\"";
  for (const std::string s : {std::string("<table>"), inlined_png, std::string("alt=\"loss.png\""),
                              std::string("&lt;html&gt; &amp; <code>code</code>"),
                              std::string("<section id=\"train-2\">"), std::string("</html>")}) {
    EXPECT_NE(html.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(html.find("<img src=\"train/"), std::string::npos);  // inlined, not linked
  EXPECT_TRUE(std::filesystem::exists(tmp / "report" / "transfer" / "finetune" / "loss.png"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "report" / "train" / "accuracy.png"));
  EXPECT_THROW(build_report({tmp / "missing"}, tmp / "report2"), Error);
}

TEST(ReportBuilder, MarkdownToHtml) {
  const std::string html = markdown_to_html(
      "# Title\n\ntext **bold** [link](a.html)\n\n| a | b |\n|---|---:|\n| x | 1.5 |\n\n- one\n- "
      "two\n\n```\n<raw>\n```\n");
  for (const char* s : {"<h1>Title</h1>", "<strong>bold</strong>", "<a href=\"a.html\">link</a>",
                        "<th>a</th>", "<td>x</td>", "<td class=\"num\">1.5</td>", "<li>two</li>",
                        "<pre><code>&lt;raw&gt;\n</code></pre>"}) {
    EXPECT_NE(html.find(s), std::string::npos) << s << "\n" << html;
  }
}

TEST(ReportBuilder, CsvToMarkdown) {
  EXPECT_EQ(csv_to_markdown("a,b\n1,\"x,y\"\n2,z\n", 1), "| a | b |\n|---|---|\n| 2 | z |\n");
  EXPECT_EQ(csv_to_markdown("a,b\n1,\"x,y\"\n", 5), "| a | b |\n|---|---|\n| 1 | x,y |\n");
  EXPECT_EQ(csv_to_markdown("", 5), "");
}

}  // namespace
}  // namespace fedsign::report
