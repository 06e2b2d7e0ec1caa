// Simulated attacks (fl/attack/): each changes a client's update or data exactly as specified.
// Update attacks against hand-computed models, the Gaussian update's statistics and seeding,
// little-is-enough's z and crafted update (alone and as a round's colluding aggregation), label
// flipping, the backdoor trigger on uint8 and float images, and the attacker choice.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/attack/attack_options.h"
#include "fedsign/fl/attack/collusion.h"
#include "fedsign/fl/attack/little_is_enough.h"
#include "fedsign/fl/attack/update_attacks.h"
#include "fedsign/fl/strategy/fedavg.h"

namespace fedsign::fl::attack {
namespace {

Weights make(float w0, float w1, int64_t batches = 3) {
  Weights out;
  out.names = {"layer.weight", "bn.num_batches_tracked"};
  out.tensors = {torch::tensor({w0, w1}), torch::tensor(batches)};
  return out;
}

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

const Weights kGlobal = make(1, 2, 3);

TEST(UpdateAttacks, SignFlipAndScaling) {
  const Weights local = make(1.5f, 1.0f, 7);  // update (0.5, -1)
  EXPECT_EQ(values(sign_flip(kGlobal, local).tensors[0]), (std::vector<float>{0.5f, 3.0f}));
  EXPECT_EQ(values(sign_flip(kGlobal, local, 4).tensors[0]), (std::vector<float>{-1.0f, 6.0f}));
  EXPECT_EQ(values(scaled_update(kGlobal, local, 10).tensors[0]), (std::vector<float>{6.0f, -8.0f}));
  // Integer tensors pass unchanged.
  EXPECT_EQ(sign_flip(kGlobal, local).tensors[1].item<int64_t>(), 7);
  EXPECT_THROW(sign_flip(kGlobal, local, 0), fedsign::Error);
}

TEST(UpdateAttacks, GaussianUpdateIsSeededNoise) {
  Weights big;
  big.names = {"w"};
  big.tensors = {torch::zeros({20000})};
  const Weights a = gaussian_update(big, big, 0.5, 42);
  const Weights b = gaussian_update(big, big, 0.5, 42);
  const Weights c = gaussian_update(big, big, 0.5, 43);
  EXPECT_TRUE(equal(a, b));
  EXPECT_FALSE(equal(a, c));
  EXPECT_NEAR(a.tensors[0].mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(a.tensors[0].std().item<double>(), 0.5, 0.02);
  // The update is replaced, not added to: the client's training does not show through.
  Weights trained = big;
  trained.tensors = {torch::full({20000}, 100.0f)};
  EXPECT_TRUE(equal(gaussian_update(big, trained, 0.5, 42), a));
}

TEST(LittleIsEnough, ZFromThePaper) {
  // n = 10, m = 2: s = 6 - 2 = 4, Phi^-1(6/10) = 0.253347; n = 50, m = 12: s = 14,
  // Phi^-1(36/50) = 0.582842; no attackers: (n - s)/n = 0.4 < 1/2, z = 0.
  EXPECT_NEAR(little_is_enough_z(10, 2), 0.2533471, 1e-6);
  EXPECT_NEAR(little_is_enough_z(50, 12), 0.5828415, 1e-6);
  EXPECT_EQ(little_is_enough_z(10, 0), 0.0);
  EXPECT_GT(little_is_enough_z(100, 20), little_is_enough_z(100, 10));
  EXPECT_THROW(little_is_enough_z(10, 11), fedsign::Error);
}

TEST(LittleIsEnough, MeanMinusZStd) {
  // Deltas (1, 2), (3, 2), (5, 8): mean (3, 4), sample std (2, sqrt(12)).
  const std::vector<Weights> seen = {make(2, 4), make(4, 4), make(6, 10)};
  const Weights crafted = little_is_enough(kGlobal, seen, 1.0);
  const auto v = values(crafted.tensors[0]);
  EXPECT_NEAR(v[0], 1 + 3 - 2, 1e-6);
  EXPECT_NEAR(v[1], 2 + 4 - std::sqrt(12.0), 1e-6);
  // z = 0: the mean; one observed update: itself.
  EXPECT_NEAR(values(little_is_enough(kGlobal, seen, 0).tensors[0])[1], 6, 1e-6);
  EXPECT_TRUE(equal(little_is_enough(kGlobal, {seen[0]}, 1.5), seen[0]));
}

FitResult result(ClientId id, Weights w) {
  FitResult r;
  r.client_id = id;
  r.weights = std::move(w);
  r.num_examples = 1;
  return r;
}

TEST(LittleIsEnough, CollusionInARound) {
  // Clients 1 and 2 attack; they observe their own updates (2, 0) and (4, 0): mean (3, 0),
  // std (sqrt 2, 0), z = 1 -> both send (3 - sqrt 2, 0). With benign (1, 1) and (0, 2), FedAvg
  // gives ((1 + 2 (3 - sqrt 2) + 0) / 4, 3 / 4) as the update.
  FedAvg fedavg(StrategyOptions{});
  CollusionAggregation round(fedavg.begin_aggregate_fit(1, kGlobal), kGlobal, {1, 2}, 1.0);
  round.add(result(0, make(2, 3)));
  round.add(result(1, make(3, 2)));
  round.add(result(2, make(5, 2)));
  round.add(result(3, make(1, 4)));
  AggregateFitResult out = round.finish({});
  const auto v = values(out.weights.tensors[0]);
  EXPECT_NEAR(v[0], 1 + (1 + 2 * (3 - std::sqrt(2.0))) / 4, 1e-6);
  EXPECT_NEAR(v[1], 2 + 0.75, 1e-6);
  EXPECT_EQ(out.metrics.at("attack_num_attackers"), 2);
  // z = 0 takes the paper's z_max for 4 results and 2 attackers: s = 1, Phi^-1(3/4).
  AttackOptions options;
  options.kind = "little-is-enough";
  auto wrapped = wrap_collusion(options, fedavg.begin_aggregate_fit(1, kGlobal), kGlobal, {1, 2});
  for (ClientId id : {0, 1, 2, 3}) wrapped->add(result(id, make(1 + id, 2)));
  EXPECT_NEAR(wrapped->finish({}).metrics.at("attack_z"), 0.6744898, 1e-6);
  // As a strategy wrapper: the same round through ColludingStrategy, which keeps the inner name
  // (so checkpoints do not change).
  ColludingStrategy colluding(fedavg, {1, 2}, 1.0);
  EXPECT_EQ(colluding.name(), "fedavg");
  std::vector<FitResult> round_results = {result(0, make(2, 3)), result(1, make(3, 2)),
                                          result(2, make(5, 2)), result(3, make(1, 4))};
  const AggregateFitResult via_strategy = colluding.aggregate_fit(1, kGlobal, round_results, {});
  EXPECT_TRUE(equal(via_strategy.weights, out.weights));
  EXPECT_EQ(via_strategy.metrics.at("attack_num_attackers"), 2);
}

data::ImageSet tiny_set() {
  data::ImageSet set;
  set.height = set.width = 8;
  for (int32_t label : {0, 1, 2, 3}) {
    set.labels.push_back(label);
    set.tracks.push_back(label);
    set.paths.push_back("img" + std::to_string(label));
    for (int k = 0; k < 8 * 8 * 3; ++k) set.pixels.push_back(static_cast<uint8_t>(100 + label));
  }
  return set;
}

TEST(DataPoisoning, LabelFlipping) {
  const data::ImageSet set = tiny_set();
  const data::ImageSet flipped = label_flipped_copy(set, {3, 1}, reverse_labels(43));
  EXPECT_EQ(flipped.labels, (std::vector<int32_t>{39, 41}));
  EXPECT_EQ(flipped.image(0)[0], 103);  // pixels copied, in the order asked
  EXPECT_EQ(set.labels[3], 3);          // the shared set is untouched
  const data::ImageSet copy = image_copy(set, {2});
  EXPECT_EQ(copy.labels, (std::vector<int32_t>{2}));
  EXPECT_EQ(copy.image(0)[5], 102);
  EXPECT_EQ(label_flipped_copy(set, {0, 2}, relabel(2, 7)).labels, (std::vector<int32_t>{0, 7}));
  AttackOptions options;
  options.kind = "label-flip";
  auto poisoned = poisoned_training_data(options, set, {0, 1}, 5);
  ASSERT_TRUE(poisoned.has_value());
  EXPECT_EQ(poisoned->labels, (std::vector<int32_t>{42, 41}));
  options.kind = "sign-flip";
  EXPECT_FALSE(poisoned_training_data(options, set, {0, 1}, 5).has_value());
}

TEST(DataPoisoning, BackdoorTriggerAndSets) {
  data::ImageSet set = tiny_set();
  Trigger t;  // 4 px, cells of 2, 1 px from the bottom-right corner: rows/cols 3..6
  t.target_label = 2;
  stamp_trigger(set, 1, t);
  auto px = [&](std::size_t i, int y, int x) { return set.image(i)[(y * 8 + x) * 3]; };
  EXPECT_EQ(px(1, 3, 3), 255);  // top-left cell white
  EXPECT_EQ(px(1, 3, 5), 0);
  EXPECT_EQ(px(1, 6, 4), 0);
  EXPECT_EQ(px(1, 6, 6), 255);
  EXPECT_EQ(px(1, 2, 3), 101);  // outside the patch: unchanged
  EXPECT_EQ(px(1, 7, 7), 101);
  EXPECT_EQ(px(0, 3, 3), 100);  // other images untouched

  // The float version stamps the same pattern on [0, 1] batches.
  const torch::Tensor batch = torch::full({2, 3, 8, 8}, 0.5f);
  const torch::Tensor stamped = stamp_trigger(batch, t);
  EXPECT_EQ(stamped[1][2][3][3].item<float>(), 1.0f);
  EXPECT_EQ(stamped[0][0][3][5].item<float>(), 0.0f);
  EXPECT_EQ(stamped[0][0][2][3].item<float>(), 0.5f);
  EXPECT_EQ(batch[0][0][3][3].item<float>(), 0.5f);  // a copy
  EXPECT_EQ((stamped != batch).sum().item<int64_t>(), 2 * 3 * 16);  // every patch pixel

  // Evaluation set: images of other classes, stamped, labelled with the target.
  const data::ImageSet clean = tiny_set();
  const data::ImageSet triggered = triggered_evaluation_set(clean, {0, 1, 2, 3}, t);
  EXPECT_EQ(triggered.size(), 3u);
  EXPECT_EQ(triggered.labels, (std::vector<int32_t>{2, 2, 2}));
  EXPECT_EQ(triggered.image(2)[(3 * 8 + 3) * 3], 255);
  EXPECT_EQ(triggered.image(2)[0], 103);  // image of class 3 (class 2 was skipped)

  // Training copy: half the images stamped and relabelled, seeded.
  const data::ImageSet poisoned = backdoor_training_copy(clean, {0, 1, 2, 3}, t, 0.5, 9);
  int stamped_count = 0;
  for (std::size_t i = 0; i < poisoned.size(); ++i) {
    const bool has_patch = poisoned.image(i)[(3 * 8 + 3) * 3] == 255;
    stamped_count += has_patch ? 1 : 0;
    EXPECT_EQ(poisoned.labels[i], has_patch ? 2 : static_cast<int32_t>(i));
  }
  EXPECT_EQ(stamped_count, 2);
  EXPECT_EQ(backdoor_training_copy(clean, {0, 1, 2, 3}, t, 0.5, 9).labels, poisoned.labels);
  t.size = 8;
  EXPECT_THROW(stamp_trigger(set, 0, t), fedsign::Error);  // does not fit with its margin
}

TEST(AttackOptions, AttackersAndApplyAttack) {
  AttackOptions options;
  options.kind = "scale";
  options.fraction = 0.2;
  options.seed = 4;
  const auto attackers = choose_attackers(options, 100);
  EXPECT_EQ(attackers.size(), 20u);
  EXPECT_EQ(choose_attackers(options, 100), attackers);
  options.seed = 5;
  EXPECT_NE(choose_attackers(options, 100), attackers);
  options.kind = "none";
  EXPECT_TRUE(choose_attackers(options, 100).empty());

  FitResult r = result(3, make(1.5f, 1.0f));
  options.kind = "scale";  // default boost 10
  apply_attack(options, 1, kGlobal, r);
  EXPECT_EQ(values(r.weights.tensors[0]), (std::vector<float>{6.0f, -8.0f}));
  r = result(3, make(1.5f, 1.0f));
  options.kind = "sign-flip";
  apply_attack(options, 1, kGlobal, r);
  EXPECT_EQ(values(r.weights.tensors[0]), (std::vector<float>{0.5f, 3.0f}));
  options.kind = "noise";
  FitResult g1 = result(3, kGlobal), g2 = result(3, kGlobal), g3 = result(4, kGlobal);
  apply_attack(options, 2, kGlobal, g1);
  apply_attack(options, 2, kGlobal, g2);
  apply_attack(options, 2, kGlobal, g3);
  EXPECT_TRUE(equal(g1.weights, g2.weights));
  EXPECT_FALSE(equal(g1.weights, g3.weights));  // each attacker draws its own noise
  options.kind = "backdoor";  // a data attack: the update is left alone
  FitResult untouched = result(3, make(1.5f, 1.0f));
  apply_attack(options, 1, kGlobal, untouched);
  EXPECT_TRUE(equal(untouched.weights, make(1.5f, 1.0f)));
  options.kind = "flip";
  EXPECT_THROW(validate(options), fedsign::Error);
  options.kind = "backdoor";
  options.target_label = 43;
  EXPECT_THROW(validate(options), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl::attack
