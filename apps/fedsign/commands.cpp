#include "commands.h"

#include "fedsign/core/check.h"

namespace fedsign::cli {

namespace {
Actions& actions() {
  static Actions instance;
  return instance;
}
}  // namespace

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& help) {
  // `--config` belongs to the root app; it reaches here through fallthrough (see main.cpp).
  return parent.add_subcommand(name, help);
}

namespace {
// A TOML reader whose top-level keys address the selected subcommand, so a config file for
// `fedsign train` reads `epochs = 30` rather than `[train] epochs = 30`. Sections still work
// (e.g. `[fl.simulate]`). CLI11 fills only options not given as flags: flags win.
class CommandConfig : public CLI::ConfigTOML {
 public:
  explicit CommandConfig(const CLI::App& root) : root_(root) {}
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(input);
    std::vector<std::string> path;
    for (const CLI::App* app = &root_; !app->get_subcommands().empty();) {
      app = app->get_subcommands().front();
      path.push_back(app->get_name());
    }
    for (auto& item : items) {
      if (item.parents.empty() && item.name != "++" && item.name != "--") item.parents = path;
    }
    return items;
  }

 private:
  const CLI::App& root_;
};
}  // namespace

void use_command_config(CLI::App& root) {
  root.config_formatter(std::make_shared<CommandConfig>(root));
}

void register_commands(CLI::App& app) {
  add_data_commands(app, actions());
  add_train_command(app, actions());
  add_evaluate_command(app, actions());
  add_quantize_command(app, actions());
  add_predict_command(app, actions());
  add_models_command(app, actions());
  add_synth_command(app, actions());
  add_rare_command(app, actions());
  add_transfer_command(app, actions());
  add_cam_command(app, actions());
  add_detect_command(app, actions());
  add_report_command(app, actions());
  add_serve_command(app, actions());
  add_fl_commands(app, actions());
  add_fl_net_commands(app, actions());  // last: joins the `fl` group if one exists
}

void run_selected(const CLI::App& app) {
  const CLI::App* current = &app;
  while (true) {
    auto selected = current->get_subcommands();
    if (selected.empty()) break;
    current = selected.front();
  }
  auto it = actions().find(current);
  FEDSIGN_CHECK(it != actions().end(), "command '{}' needs a subcommand (see --help)",
                current->get_name());
  it->second();
}

}  // namespace fedsign::cli
