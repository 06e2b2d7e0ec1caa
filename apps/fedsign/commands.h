// Subcommand registration for the fedsign CLI. Each cmd_*.cpp adds one command (or group).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>

namespace fedsign::cli {

// What to run when a (leaf) subcommand was selected on the command line.
using Actions = std::map<const CLI::App*, std::function<void()>>;

// Adds a subcommand that reads its options from `--config FILE` (TOML, keys = long option names)
// as well as from flags; flags win.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& help);

void register_commands(CLI::App& app);
void run_selected(const CLI::App& app);

// One per command file.
void add_data_commands(CLI::App& app, Actions& actions);
void add_train_command(CLI::App& app, Actions& actions);
void add_evaluate_command(CLI::App& app, Actions& actions);
void add_predict_command(CLI::App& app, Actions& actions);
void add_models_command(CLI::App& app, Actions& actions);

}  // namespace fedsign::cli
