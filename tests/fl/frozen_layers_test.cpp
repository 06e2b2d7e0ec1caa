// Federated fine-tuning of part of a model: the server holds every tensor outside the trained
// layer groups at the global model's value (also under DP noise), the clients are told which
// groups to train, a pretrained file becomes the first global model, and a client that trains
// only the head leaves every other tensor (BatchNorm running statistics included) bit-identical.
#include "fedsign/fl/strategy/frozen_layers.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/fl/client/client_state.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/run/federation.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "tests/testing/errors.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::fl {
namespace {

Weights two_layers(float body, float head) {
  Weights w;
  w.names = {"body.weight", "head.weight"};
  w.tensors = {torch::full({4}, body), torch::full({2}, head)};
  return w;
}

FitResult result(ClientId id, const Weights& w) {
  FitResult r;
  r.client_id = id;
  r.weights = w;
  r.num_examples = 10;
  return r;
}

FederationConfig frozen_body_config() {
  FederationConfig c;
  c.num_clients = 4;
  c.clients_per_round = 2;
  c.trainable_groups = {"head"};
  c.frozen_tensors = {"body.weight"};
  return c;
}

TEST(FrozenLayers, ClientsAreToldTheGroupsAndTheServerHoldsTheRest) {
  FixedClientManager clients(4);
  auto strategy = make_federation_strategy(frozen_body_config());
  const Weights global = two_layers(1, 1);
  const auto fit = strategy->configure_fit(1, global, clients);
  ASSERT_EQ(fit.size(), 2u);
  for (const auto& f : fit) EXPECT_EQ(get_string(f.ins.config, keys::kTrainableGroups, ""), "head");
  // A client that changed the frozen body anyway (bug or malice) does not move it.
  const auto out = strategy->aggregate_fit(
      1, global, {result(0, two_layers(5, 3)), result(1, two_layers(-9, 5))}, {});
  EXPECT_TRUE(torch::equal(out.weights.tensors[0], global.tensors[0]));
  EXPECT_TRUE(torch::allclose(out.weights.tensors[1], torch::full({2}, 4.0f)));
}

TEST(FrozenLayers, DpNoiseReachesOnlyTheTrainedTensors) {
  FederationConfig c = frozen_body_config();
  c.dp_mode = "central";
  c.dp.clip = 1.0;
  c.dp.noise_multiplier = 5.0;
  auto strategy = make_federation_strategy(c);
  EXPECT_NE(dynamic_cast<const privacy::DpFedAvg*>(strategy.get()), nullptr)
      << "DP stays outermost: its accountant is what the run reports";
  FixedClientManager clients(4);
  const Weights global = two_layers(1, 1);
  strategy->configure_fit(1, global, clients);
  const auto out = strategy->aggregate_fit(
      1, global, {result(0, two_layers(1, 1.5)), result(1, two_layers(1, 0.5))}, {});
  EXPECT_TRUE(torch::equal(out.weights.tensors[0], global.tensors[0]));
  EXPECT_GT((out.weights.tensors[1] - 1).abs().max().item<double>(), 0.1)
      << "noise of std 5 * 1 / 2 on the head";
}

TEST(FrozenLayers, InitialParametersBecomeTheFirstGlobalModel) {
  FederationConfig c;
  EXPECT_FALSE(make_federation_strategy(c)->initialize_parameters().has_value());
  c.initial_parameters = two_layers(7, 8);
  for (const std::string name : {"fedavg", "fedadam"}) {
    c.strategy = name;
    const auto initial = make_federation_strategy(c)->initialize_parameters();
    ASSERT_TRUE(initial.has_value()) << name;
    EXPECT_TRUE(equal(*initial, two_layers(7, 8))) << name;
  }
}

TEST(FrozenLayers, ResolveLoadsTheFileAndListsTheFrozenTensors) {
  testing::TempDir tmp;
  models::ModelOptions options;
  options.num_classes = 43;
  options.input_size = 32;
  auto pretrained = models::create_model("compact", options);
  models::save_weights(*pretrained, tmp / "public.pt");
  auto fresh = models::create_model("compact", options);

  FederationConfig c;
  c.init_weights = (tmp / "public.pt").string();
  c.trainable_groups = {"head"};
  resolve_model_settings(c, *fresh);
  ASSERT_TRUE(c.initial_parameters.has_value());
  EXPECT_TRUE(equal(*c.initial_parameters, get_weights(*pretrained)));
  ASSERT_FALSE(c.frozen_tensors.empty());
  for (const std::string& name : c.frozen_tensors) EXPECT_NE(name.rfind("head.", 0), 0u) << name;
  EXPECT_EQ(c.frozen_tensors.size() + 2, get_weights(*fresh).size()) << "head.weight, head.bias";

  c.trainable_groups = {"batchnorm", "head"};
  resolve_model_settings(c, *fresh);
  EXPECT_EQ(c.frozen_tensors.size() + 2 + 2 * 7, get_weights(*fresh).size())
      << "head + the 7 BatchNorm layers' weight and bias train";
  for (const std::string& name : c.frozen_tensors) {
    EXPECT_TRUE(name.find("running_") != std::string::npos ||
                name.find("num_batches") != std::string::npos || name.ends_with("0.weight") ||
                name.ends_with("3.weight"))
        << name << ": conv weights and BatchNorm statistics only";
  }

  c.trainable_groups = {"stage9"};
  EXPECT_ERROR(resolve_model_settings(c, *fresh), "stage9");
  c.trainable_groups = {"all"};
  c.init_weights = (tmp / "missing.pt").string();
  EXPECT_ERROR(resolve_model_settings(c, *fresh), "missing.pt");
}

TEST(FrozenLayers, ParseGroups) {
  EXPECT_EQ(models::parse_groups("all"), std::vector<std::string>{"all"});
  EXPECT_EQ(models::parse_groups("stage4, head"), (std::vector<std::string>{"stage4", "head"}));
  EXPECT_ERROR(models::parse_groups("stage4,,head"), "empty name");
  EXPECT_ERROR(models::parse_groups(""), "empty name");
}

TEST(FrozenLayers, HeadOnlyClientLeavesTheBodyBitIdentical) {
  testing::TempDir dir;
  testing::write_kaggle_dataset(dir / "data",
                                {.num_classes = 4, .tracks_per_class = 2, .frames_per_track = 3});
  data::LoadOptions load;
  load.size = 16;
  load.progress = false;
  load.threads = 1;
  const data::ImageSet set = data::load_images(data::find_dataset(dir / "data"), load);
  train::TrainConfig config;
  config.model = "compact";
  config.batch_size = 8;
  config.optimizer.name = "sgd";
  config.optimizer.lr = 0.1;
  config.precision = "fp32";
  config.threads = 1;
  Worker worker(config, set.height, 43);
  const Weights global = get_weights(worker.model());
  ClientData data;
  for (std::size_t i = 0; i < set.size(); ++i) data.train.push_back(static_cast<int64_t>(i));
  MemoryClientStateStore states;
  Faults faults;
  LocalClient client(0, set, data, states, worker, BnMode::kAggregate, faults);

  Config fit_config = {{keys::kLocalSteps, int64_t{3}}, {keys::kRound, int64_t{1}},
                       {keys::kLr, 0.1}, {keys::kTrainableGroups, std::string("head")}};
  const Weights head_only = client.fit(FitIns{global, fit_config, std::nullopt}).weights;
  int changed = 0;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const bool same = torch::equal(head_only.tensors[i], global.tensors[i]);
    if (global.names[i].rfind("head.", 0) == 0) {
      changed += same ? 0 : 1;
    } else {
      EXPECT_TRUE(same) << global.names[i] << " moved although frozen";
    }
  }
  EXPECT_EQ(changed, 2) << "head.weight and head.bias train";

  // BatchNorm scale and shift + head: those move; the convs and the running statistics (held in
  // eval mode, so they neither update nor normalize with batch statistics) stay bit-identical.
  fit_config[keys::kTrainableGroups] = std::string("batchnorm,head");
  const Weights bn_head = client.fit(FitIns{global, fit_config, std::nullopt}).weights;
  int moved = 0, trainable = 0;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const std::string& name = global.names[i];
    const bool is_bn_affine = name.find(".weight") != std::string::npos &&
                                  global.tensors[i].dim() == 1 ||
                              name.find(".bias") != std::string::npos;
    const bool expected_trainable = name.rfind("head.", 0) == 0 || is_bn_affine;
    const bool same = torch::equal(bn_head.tensors[i], global.tensors[i]);
    if (expected_trainable) {
      ++trainable;
      moved += same ? 0 : 1;
    } else {
      EXPECT_TRUE(same) << name << " moved although frozen";
    }
  }
  EXPECT_EQ(trainable, 2 + 2 * 7) << "head + 7 BatchNorm layers' weight and bias";
  EXPECT_EQ(moved, trainable);

  // The next fit without the key trains everything again (the worker's model is shared).
  fit_config.erase(keys::kTrainableGroups);
  const Weights all = client.fit(FitIns{global, fit_config, std::nullopt}).weights;
  const auto body = std::find(global.names.begin(), global.names.end(), "stage1.0.weight");
  ASSERT_NE(body, global.names.end());
  const std::size_t k = static_cast<std::size_t>(body - global.names.begin());
  EXPECT_FALSE(torch::equal(all.tensors[k], global.tensors[k]));
}

}  // namespace
}  // namespace fedsign::fl
