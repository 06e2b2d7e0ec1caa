// `fedsign report RUN_DIR... --out DIR`: one report over several runs of any kind, as Markdown
// (report.md, plots copied beside it) and as one self-contained HTML page (report.html, plots
// inlined) that can be shared as a single file.
#include "commands.h"
#include "fedsign/report/report_builder.h"

namespace fedsign::cli {

namespace {
struct ReportCommand {
  std::vector<std::string> runs;
  std::string title = "fedsign report";
  std::string out = "runs/report";
};

void run(const ReportCommand& o) {
  std::vector<std::filesystem::path> dirs(o.runs.begin(), o.runs.end());
  report::ReportOptions options;
  options.title = o.title;
  const auto files = report::build_report(dirs, o.out, options);
  std::printf("%d run(s), %d image(s): %s, %s (self-contained)\n", files.runs, files.images,
              files.markdown.c_str(), files.html.c_str());
}
}  // namespace

void add_report_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<ReportCommand>();
  CLI::App* cmd = add_command(app, "report",
                              "Gather run directories (train, fl, rare, transfer, detect, evaluate) "
                              "into a Markdown report and one self-contained HTML page");
  cmd->add_option("runs", o->runs, "run directories")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--title", o->title, "report title")->capture_default_str();
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  actions[cmd] = [o] { run(*o); };
}

}  // namespace fedsign::cli
