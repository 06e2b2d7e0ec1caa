// Subcommand registration for the fedsign CLI. Each cmd_*.cpp adds one command (or group).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>

namespace fedsign::cli {

// What to run when a (leaf) subcommand was selected on the command line.
using Actions = std::map<const CLI::App*, std::function<void()>>;

// Adds a subcommand. Its options can also come from `--config FILE` (TOML, keys = long option
// names without dashes' prefix, e.g. `batch-size = 64`); flags win.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& help);

void register_commands(CLI::App& app);

// Makes `--config FILE` apply top-level keys to the selected subcommand.
void use_command_config(CLI::App& root);
void run_selected(const CLI::App& app);

// The `fl` command group (created by the first caller).
CLI::App* fl_group(CLI::App& app);

// One per command file.
void add_data_commands(CLI::App& app, Actions& actions);
void add_train_command(CLI::App& app, Actions& actions);
void add_evaluate_command(CLI::App& app, Actions& actions);
void add_quantize_command(CLI::App& app, Actions& actions);  // in cmd_evaluate.cpp
void add_predict_command(CLI::App& app, Actions& actions);
void add_models_command(CLI::App& app, Actions& actions);
void add_fl_commands(CLI::App& app, Actions& actions);  // fl simulate, fl partition, fl compare
void add_fl_net_commands(CLI::App& app, Actions& actions);  // fl server, fl client
void add_synth_command(CLI::App& app, Actions& actions);
void add_rare_command(CLI::App& app, Actions& actions);
void add_transfer_command(CLI::App& app, Actions& actions);
void add_cam_command(CLI::App& app, Actions& actions);
void add_detect_command(CLI::App& app, Actions& actions);
void add_report_command(CLI::App& app, Actions& actions);
void add_serve_command(CLI::App& app, Actions& actions);

}  // namespace fedsign::cli
