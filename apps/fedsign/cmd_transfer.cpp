// `fedsign transfer --source MODEL --modes ...`: the transfer-learning modes side by side on
// GTSRB, one table (transfer.md/.csv) and one chart in a run directory.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/experiments/transfer.h"
#include "fedsign/experiments/transfer_models.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {
struct TransferCommand {
  DataOptions data;
  TrainOptions train;
  std::string source;
  std::string source_arch;
  int64_t source_classes = 0;
  std::string modes = "direct,scratch,features,finetune,partial";
  int upscale = 0;
  std::string head_hidden;
  double head_dropout = 0.2;
  int partial_groups = 2;
  bool keep_head = false;
  std::string label_map;
  std::string out = "runs/transfer";
};

std::vector<int64_t> parse_sizes(const std::string& text) {
  std::string s = text;
  std::replace(s.begin(), s.end(), ',', ' ');
  std::istringstream in(s);
  std::vector<int64_t> sizes;
  for (std::string item; in >> item;) {
    try {
      sizes.push_back(std::stoll(item));
    } catch (const std::exception&) {
      FEDSIGN_FAIL("--head-hidden: '{}' is not a layer size", item);
    }
  }
  return sizes;
}

void run(const CLI::App& command, const TransferCommand& o) {
  const experiments::TransferSource source =
      experiments::resolve_transfer_source(o.source, o.source_arch, o.source_classes);
  DataOptions data = o.data;
  // The source decides the input unless told otherwise: its size (or --upscale) and contrast.
  if (o.upscale > 0) {
    data.size = o.upscale;
  } else if (command.count("--size") == 0 && source.has_info) {
    data.size = source.input_size;
  }
  if (command.count("--contrast") == 0 && source.has_info) data.contrast = source.contrast;

  experiments::TransferOptions options;
  options.modes = experiments::parse_transfer_modes(o.modes);
  options.num_classes = data::kNumGtsrbClasses;
  options.input_size = data.size;
  options.contrast = data.contrast;
  options.head_hidden = parse_sizes(o.head_hidden);
  options.head_dropout = o.head_dropout;
  options.partial_groups = o.partial_groups;
  options.keep_head = o.keep_head;
  options.config = resolve(o.train, o.data);
  options.config.model = source.architecture;
  if (!o.label_map.empty()) {
    options.label_map =
        experiments::read_label_map(o.label_map, source.num_classes, options.num_classes);
  }

  data::ImageSet set = load_dataset(data);
  const data::TrackSplit split = split_dataset(set, data);
  const std::filesystem::path run_dir = o.out;
  std::filesystem::create_directories(run_dir);
  write_text_atomically(run_dir / "config.toml", command.config_to_str(true, false));
  spdlog::info("source {} ({}, {} classes); {} train / {} validation images at {} px", source.weights.string(),
               source.architecture, source.num_classes, split.train.size(),
               split.validation.size(), data.size);

  const auto results = experiments::run_transfer(
      set, split, source, options, run_dir,
      [&](experiments::TransferMode mode, const experiments::TransferEpoch& e) {
        spdlog::info("{:>8} epoch {:3}/{}  train loss {:.4f} acc {:6.2f}%  validation loss {:.4f} acc "
                     "{:6.2f}%  {:5.1f}s",
                     experiments::to_string(mode), e.epoch, options.config.epochs, e.train_loss,
                     100 * e.train_accuracy, e.val_loss, 100 * e.val_accuracy, e.seconds);
      });
  std::printf("%s", experiments::transfer_table_markdown(results).c_str());
  if (!split.test.empty()) {
    std::printf("test split (untouched, %zu images, read once per mode): the table's test column\n",
                split.test.size());
  }
  std::printf("run in %s\n", run_dir.c_str());
}
}  // namespace

void add_transfer_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<TransferCommand>();
  CLI::App* cmd = add_command(app, "transfer",
                              "Transfer learning: direct use, scratch, feature extraction, "
                              "fine-tuning and partial fine-tuning of a source model, compared");
  cmd->add_option("--source", o->source,
                  "source model: run directory or .pt (model.json beside it), or a torchvision "
                  "export with --source-arch")
      ->required();
  cmd->add_option("--source-arch", o->source_arch,
                  "architecture of the source weights (overrides model.json)");
  cmd->add_option("--source-classes", o->source_classes,
                  "classes of the source head (default: model.json, else 43)");
  cmd->add_option("--modes", o->modes,
                  "comma-separated: direct, scratch, features, finetune, partial (or all)")
      ->capture_default_str();
  cmd->add_option("--upscale", o->upscale,
                  "decode inputs at this side (bicubic) for models made for larger images")
      ->check(CLI::Range(0, 512));
  cmd->add_option("--head-hidden", o->head_hidden,
                  "features mode: hidden layer sizes of the new head, e.g. 256,128");
  cmd->add_option("--head-dropout", o->head_dropout, "dropout after each hidden head layer")
      ->capture_default_str();
  cmd->add_option("--partial-groups", o->partial_groups,
                  "partial mode: number of last layer groups trained (head included)")
      ->capture_default_str();
  cmd->add_flag("--keep-head", o->keep_head,
                "finetune/partial: keep the source output layer when its shape fits");
  cmd->add_option("--label-map", o->label_map,
                  "direct mode: CSV 'source,target' class pairs (default: identity)");
  add_data_options(*cmd, o->data);
  add_test_split_option(*cmd, o->data);
  add_train_options(*cmd, o->train);
  cmd->add_option("--out", o->out, "run directory")->capture_default_str();
  actions[cmd] = [cmd, o] { run(*cmd, *o); };
}

}  // namespace fedsign::cli
