// `fedsign models`: the model registry with parameter counts.
#include "commands.h"
#include "fedsign/models/registry.h"

namespace fedsign::cli {

void add_models_command(CLI::App& app, Actions& actions) {
  auto size = std::make_shared<int>(32);
  CLI::App* cmd = add_command(app, "models", "List the available model architectures");
  cmd->add_option("--size", *size, "input side used to build the models")->capture_default_str();
  actions[cmd] = [size] {
    models::ModelOptions options;
    options.input_size = *size;
    std::printf("%-20s %12s  %s\n", "name", "parameters", "description");
    for (const auto& name : models::model_names()) {
      auto model = models::create_model(name, options);
      std::printf("%-20s %12lld  %s\n", name.c_str(),
                  static_cast<long long>(models::count_parameters(*model)),
                  models::describe_model(name).c_str());
    }
  };
}

}  // namespace fedsign::cli
