#include "robust_options.h"

namespace fedsign::cli {

void add_robust_options(CLI::App& cmd, fl::RobustOptions& o) {
  const char* group = "Robustness";
  cmd.add_option("--robust", o.rule,
                 "robust aggregation rule around the strategy; every rule but none holds a "
                 "round's updates in memory")
      ->check(CLI::IsMember(fl::robust_rule_names()))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--trim-beta", o.trim_beta,
                 "trimmed-mean: share of updates cut from each end of every coordinate")
      ->check(CLI::Range(0.0, 0.49))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--krum-f", o.krum_f,
                 "krum, multi-krum: attackers assumed per round (needs f + 3 clients per round)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--krum-m", o.krum_m, "multi-krum: updates averaged (0: clients per round - f)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--clip-norm", o.clip_norm,
                 "clip every update to this L2 norm before aggregating (0: off; with "
                 "--adaptive-clip the initial bound, 0 there: the --clip-quantile of round 1's norms)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--adaptive-clip", o.adaptive_clip,
               "clip to a bound that follows --clip-quantile of the update norms (Andrew et al. "
               "2021)")
      ->group(group);
  cmd.add_option("--clip-quantile", o.clip_quantile,
                 "adaptive clipping: share of updates meant to pass unclipped")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--cosine-threshold", o.cosine_threshold,
                 "cosine-filter: keep the updates whose cosine with the round's coordinate-wise "
                 "median is above this")
      ->check(CLI::Range(-1.0, 0.99))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--duplicate-cosine", o.duplicate_cosine,
                 "cosine-filter: drop updates at this cosine or more with another update of the "
                 "round, near copies as colluders send (above 1: off)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--cosine-memory", o.cosine_memory,
               "cosine-filter: a client whose update was once dropped is not kept again (the "
               "server remembers it; checkpointed)")
      ->group(group);
  cmd.add_option("--cosine-strikes", o.cosine_strikes,
                 "cosine-filter with --cosine-memory: rounds a client must be dropped in before it "
                 "is kept out for good (1: the first; more forgives an honest client's one-off)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--cosine-drop-share", o.cosine_drop_share,
                 "cosine-filter with --cosine-memory: a client is kept out only once dropped in at "
                 "least this share of the rounds it took part in, beside --cosine-strikes (0: the "
                 "strikes alone; 0.5 forgives late drops of a client kept for many rounds)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--cosine-strikes-from", o.cosine_strikes_from,
                 "cosine-filter with --cosine-memory: the drops that count as strikes: any test's, "
                 "or only --label-test's (label: the cosine test still drops per round, but its "
                 "late drops, honest and attacking updates alike, do not keep clients out)")
      ->check(CLI::IsMember({"any", "label"}))
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--cosine-head", o.cosine_head,
               "cosine-filter: also drop updates whose output layer (the last Linear) alone has "
               "cosine <= --cosine-threshold with the median's")
      ->group(group);
  cmd.add_option("--label-test", o.label_test_ratio,
                 "cosine-filter: also drop updates whose model labels the server's root set "
                 "(--fltrust-root images of --data) worse than this times the round's median "
                 "(the accuracy on the images of the labels it predicts; 0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--robust-max-updates", o.max_buffered_updates,
                 "largest number of updates a rule holds in memory per round")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--fltrust-root", o.fltrust_root,
                 "fltrust and --label-test: images in the server's root set, drawn from the "
                 "training split of --data")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
}

void add_attack_options(CLI::App& cmd, fl::attack::AttackOptions& o) {
  const char* group = "Attack simulation";
  cmd.add_option("--attack", o.kind,
                 "what the attacking clients do: flip or scale their update, send noise, train "
                 "on flipped labels or a backdoor, or collude (little-is-enough); abstain: they never "
                 "send an update, the reference a defence that removes them could reach")
      ->check(CLI::IsMember(fl::attack::attack_names()))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--attack-fraction", o.fraction,
                 "share of all clients that attack (chosen from --seed, fixed for the run; ids in "
                 "OUT/attackers.json)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--attack-scale", o.scale,
                 "sign-flip: magnitude (0: 1); scale: boost factor (0: 10); noise: standard "
                 "deviation (0: 0.1)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--backdoor-target", o.target_label,
                 "backdoor: the class that images with the trigger patch are relabelled to")
      ->check(CLI::Range(0, data::kNumGtsrbClasses - 1))
      ->capture_default_str()
      ->group(group);
}

void add_compress_options(CLI::App& cmd, fl::compress::CompressOptions& o) {
  const char* group = "Compression";
  cmd.add_option("--compress", o.codec,
                 "client-to-server update codec: none (float32 model), int8 (quantized update, "
                 "stochastic rounding) or topk (sparse update with error feedback)")
      ->check(CLI::IsMember(fl::compress::codec_names()))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--topk-fraction", o.topk_fraction, "topk: share of each tensor's values sent")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--topk-dense-up-to", o.topk_dense_up_to,
                 "topk: tensors of at most this many values (BatchNorm scales, biases, a first "
                 "conv) are sent whole; 0: every floating tensor is sparsified")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--int8-per-channel", o.per_channel,
               "int8: one scale per output channel instead of per tensor")
      ->group(group);
}

}  // namespace fedsign::cli
