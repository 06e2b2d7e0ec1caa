// `fedsign models`: the model registry with parameter counts; with --groups, each model's layer
// groups (the unit of freezing for `transfer` and `fl --trainable-groups`) and their sizes, and
// the `batchnorm` group that cuts across them (every BatchNorm layer's scale and shift).
#include <map>

#include "commands.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"

namespace fedsign::cli {

namespace {

void print_groups(models::Classifier& model) {
  std::map<std::string, int64_t> sizes;
  for (const auto& item : model.named_parameters()) {
    sizes[model.group_of(item.key())] += item.value().numel();
  }
  for (const auto& group : model.layer_groups()) {
    std::printf("    %-16s %12lld\n", group.c_str(), static_cast<long long>(sizes[group]));
  }
  int64_t batchnorm = 0;
  const auto parameters = model.named_parameters();
  const std::vector<bool> in_batchnorm =
      models::trainable_mask(model, parameters.keys(), {models::kBatchNormGroup});
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (in_batchnorm[i]) batchnorm += parameters[i].value().numel();
  }
  if (batchnorm > 0) {
    std::printf("    %-16s %12lld  (across the groups above)\n", models::kBatchNormGroup,
                static_cast<long long>(batchnorm));
  }
}

}  // namespace

void add_models_command(CLI::App& app, Actions& actions) {
  auto size = std::make_shared<int>(32);
  auto groups = std::make_shared<bool>(false);
  CLI::App* cmd = add_command(app, "models", "List the available model architectures");
  cmd->add_option("--size", *size, "input side used to build the models")->capture_default_str();
  cmd->add_flag("--groups", *groups, "also list each model's layer groups with their parameters");
  actions[cmd] = [size, groups] {
    models::ModelOptions options;
    options.input_size = *size;
    std::printf("%-20s %12s  %s\n", "name", "parameters", "description");
    for (const auto& name : models::model_names()) {
      auto model = models::create_model(name, options);
      std::printf("%-20s %12lld  %s\n", name.c_str(),
                  static_cast<long long>(models::count_parameters(*model)),
                  models::describe_model(name).c_str());
      if (*groups) print_groups(*model);
    }
  };
}

}  // namespace fedsign::cli
