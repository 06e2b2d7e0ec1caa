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
  CLI::App* command = parent.add_subcommand(name, help);
  command->set_config("--config", "", "Read this command's options from a TOML file");
  return command;
}

void register_commands(CLI::App& app) {
  add_data_commands(app, actions());
  add_train_command(app, actions());
  add_evaluate_command(app, actions());
  add_predict_command(app, actions());
  add_models_command(app, actions());
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
