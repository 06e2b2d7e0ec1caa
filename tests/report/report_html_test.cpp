// report.html is one self-contained page: parsed with libxml2's HTML parser, every <img> is a
// base64 data: URI whose bytes (decoded with OpenSSL, not our encoder) are exactly the run's
// image file, nothing refers to a file beside the page, and the runs' tables are real tables.
// Runs of any kind: a training run, a transfer run (Markdown referencing its chart) and an
// evaluate output (no Markdown at all).
#include <gtest/gtest.h>
#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <set>

#include "fedsign/report/plot.h"
#include "fedsign/report/report_builder.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::report {
namespace {

namespace fs = std::filesystem;

// Standard base64 decoded by OpenSSL (EVP_DecodeBlock counts padding as zero bytes).
std::string decode_base64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return "<invalid base64>";
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

// An HTML document parsed by libxml2 and XPath queries returning text values.
class HtmlDocument {
 public:
  explicit HtmlDocument(const std::string& html)
      : doc_(htmlReadMemory(html.data(), static_cast<int>(html.size()), "report.html", "utf-8",
                            HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING)) {}
  ~HtmlDocument() { xmlFreeDoc(doc_); }
  HtmlDocument(const HtmlDocument&) = delete;
  HtmlDocument& operator=(const HtmlDocument&) = delete;
  bool ok() const { return doc_ != nullptr; }

  std::vector<std::string> values(const std::string& xpath) const {
    std::vector<std::string> out;
    xmlXPathContextPtr context = xmlXPathNewContext(doc_);
    xmlXPathObjectPtr result =
        xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(xpath.c_str()), context);
    if (result && result->nodesetval) {
      for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
        xmlChar* text = xmlNodeGetContent(result->nodesetval->nodeTab[i]);
        out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
        xmlFree(text);
      }
    }
    xmlXPathFreeObject(result);
    xmlXPathFreeContext(context);
    return out;
  }

 private:
  xmlDocPtr doc_;
};

void bar_chart(const fs::path& file, const std::string& title) {
  fs::create_directories(file.parent_path());
  BarChart chart;
  chart.title = title;
  chart.y_label = "accuracy (%)";
  chart.labels = {"a", "b"};
  chart.group_names = {"all"};
  chart.values = {{50, 75}};
  save_bar_chart(file, chart);
}

TEST(ReportHtml, Base64KnownAnswers) {  // RFC 4648, section 10
  const std::map<std::string, std::string> vectors = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) EXPECT_EQ(base64_encode(plain), encoded) << plain;
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  EXPECT_EQ(decode_base64(base64_encode(all_bytes)), all_bytes);
}

TEST(ReportHtml, OneSelfContainedPageWithInlinedImagesAndTables) {
  testing::TempDir tmp;
  const auto train = tmp / "runs" / "train";
  testing::write_text(train / "summary.md", "# Training run\n\n| setting | value |\n|---|---|\n"
                                            "| model | compact |\n");
  testing::write_text(train / "metrics.csv", "epoch,val_accuracy\n1,0.5\n2,0.75\n");
  testing::write_text(train / "model.pt", "weights");
  bar_chart(train / "accuracy.png", "accuracy");
  const auto transfer = tmp / "runs" / "transfer";
  testing::write_text(transfer / "transfer.md",
                      "# Transfer\n\n| mode | test accuracy |\n|---|---:|\n| finetune | 95.00% |\n\n"
                      "![accuracy](transfer_accuracy.png)\n");
  bar_chart(transfer / "transfer_accuracy.png", "transfer");
  bar_chart(transfer / "finetune" / "loss.png", "loss");
  const auto evaluate = tmp / "runs" / "evaluate";  // no Markdown: summary.json and plots only
  testing::write_text(evaluate / "summary.json", "{\"accuracy\": 0.9}\n");
  bar_chart(evaluate / "confusion.png", "confusion");

  const auto files = build_report({train, transfer, evaluate}, tmp / "report");
  EXPECT_EQ(files.images, 4);
  const std::string html = testing::read_text(files.html);
  const HtmlDocument doc(html);
  ASSERT_TRUE(doc.ok());

  // Every image is inlined, once, with exactly the bytes of its file.
  std::multiset<std::string> expected;
  for (const auto& png : {train / "accuracy.png", transfer / "transfer_accuracy.png",
                          transfer / "finetune" / "loss.png", evaluate / "confusion.png"}) {
    expected.insert(testing::read_text(png));
  }
  std::multiset<std::string> inlined;
  const std::string prefix = "data:image/png;base64,";
  for (const auto& src : doc.values("//img/@src")) {
    ASSERT_EQ(src.rfind(prefix, 0), 0u) << "not inlined: " << src.substr(0, 80);
    const std::string bytes = decode_base64(src.substr(prefix.size()));
    EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");
    inlined.insert(bytes);
  }
  EXPECT_EQ(inlined, expected);

  // Nothing refers to a file beside the page: links are in-page anchors or absolute.
  for (const auto& href : doc.values("//@href")) {
    EXPECT_TRUE(href.starts_with("#") || href.find("://") != std::string::npos) << href;
  }
  EXPECT_TRUE(doc.values("//link | //script[@src] | //iframe").empty());

  // The runs' tables: the transfer table and the metrics tail, as table rows and cells.
  EXPECT_GE(doc.values("//table").size(), 3u);  // train summary, metrics, transfer
  const auto cells = doc.values("//table//td");
  const std::set<std::string> cell_set(cells.begin(), cells.end());
  for (const char* cell : {"finetune", "95.00%", "compact", "0.75"}) {
    EXPECT_TRUE(cell_set.count(cell)) << cell;
  }
  const auto headers = doc.values("//table//th");
  EXPECT_NE(std::find(headers.begin(), headers.end(), "test accuracy"), headers.end());
  // One section per run, of any kind.
  EXPECT_EQ(doc.values("//section/@id"), (std::vector<std::string>{"train", "transfer", "evaluate"}));
}

}  // namespace
}  // namespace fedsign::report
