// `fedsign synth`: render a GTSRB-layout dataset (Train.csv + Train/<class>/*.png) from the
// sign pictograms (Meta/*.png) on photo or procedural backgrounds.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "fedsign/core/check.h"
#include "fedsign/vision/synth.h"

namespace fedsign::cli {

namespace {
struct SynthCommand {
  std::string data_dir = "../shared/data/gtsrb";
  std::string meta_dir;
  std::string out;
  std::string backgrounds;
  std::vector<int> classes;
  int per_class = 100;
  int track_size = 1;
  std::string size = "20-80";
  uint64_t seed = 1;
  int threads = 0;
  vision::SynthOptions synth;
};

void parse_size_range(const std::string& text, vision::SynthOptions* o) {
  const auto dash = text.find('-');
  try {
    if (dash == std::string::npos) {
      o->min_sign_size = o->max_sign_size = std::stoi(text);
    } else {
      o->min_sign_size = std::stoi(text.substr(0, dash));
      o->max_sign_size = std::stoi(text.substr(dash + 1));
    }
  } catch (const std::exception&) {
    FEDSIGN_FAIL("--size: expected MIN-MAX pixels, got '{}'", text);
  }
  FEDSIGN_CHECK(o->min_sign_size >= 4 && o->max_sign_size >= o->min_sign_size,
                "--size: bad range '{}'", text);
}

void run(SynthCommand o) {
  parse_size_range(o.size, &o.synth);
  const auto meta = vision::find_meta_dir(o.meta_dir.empty() ? o.data_dir : o.meta_dir);
  const auto pictograms = vision::load_pictograms(meta);
  const vision::BackgroundSource backgrounds =
      o.backgrounds.empty() ? vision::BackgroundSource()
                            : vision::BackgroundSource(o.backgrounds);
  vision::DatasetWriteOptions write;
  write.classes = o.classes;
  write.per_class = o.per_class;
  write.track_size = o.track_size;
  write.seed = o.seed;
  write.threads = o.threads;
  spdlog::info("pictograms from {}, backgrounds: {}", meta.string(),
               o.backgrounds.empty() ? std::string("procedural")
                                     : fmt::format("{} photos + procedural", backgrounds.num_photos()));
  const auto report = vision::write_synthetic_dataset(pictograms, backgrounds, o.synth, write, o.out);
  std::printf("wrote %zu images to %s in %.1f s: %.0f images/min (%zu redrawn by quality guards)\n",
              report.images, o.out.c_str(), report.seconds, report.images_per_minute(),
              report.redraws);
}
}  // namespace

void add_synth_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<SynthCommand>();
  CLI::App* cmd = add_command(app, "synth", "Render a synthetic GTSRB-layout dataset from the sign pictograms");
  cmd->add_option("--data", o->data_dir, "GTSRB folder to find Meta/ in (if --meta is not given)")
      ->capture_default_str();
  cmd->add_option("--meta", o->meta_dir, "folder of pictograms <class>.png (RGBA)");
  cmd->add_option("--out", o->out, "output folder (Kaggle layout)")->required();
  cmd->add_option("--per-class", o->per_class, "images per class")->capture_default_str();
  cmd->add_option("--classes", o->classes, "class ids (default: all 43)")->delimiter(',');
  cmd->add_option("--backgrounds", o->backgrounds,
                  "folder of background photos (default: procedural backgrounds)");
  cmd->add_option("--seed", o->seed, "samples are deterministic in (seed, class, index)")
      ->capture_default_str();
  cmd->add_option("--size", o->size, "sign side range in pixels, MIN-MAX")->capture_default_str();
  cmd->add_option("--track-size", o->track_size, "consecutive samples sharing one track id")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "worker threads (0: all cores)")->capture_default_str();
  auto& s = o->synth;
  cmd->add_option("--max-rotate", s.max_rotate_degrees, "in-plane rotation (degrees)")->capture_default_str();
  cmd->add_option("--max-slant", s.max_slant, "perspective slant")->capture_default_str();
  cmd->add_option("--max-blur", s.max_gaussian_blur, "max Gaussian blur sigma (px)")->capture_default_str();
  cmd->add_option("--occlusion", s.occlusion_probability, "probability of partial occlusion")->capture_default_str();
  cmd->add_option("--appearance", s.appearance_strength, "strength of fading/dirt/colour cast")->capture_default_str();
  cmd->add_option("--guard-min-sign", s.guard_min_sign_pixels, "reject signs smaller than this (px)")->capture_default_str();
  cmd->add_option("--guard-max-blur", s.guard_max_blur, "reject samples blurrier than this (sigma, px)")->capture_default_str();
  cmd->add_option("--guard-min-contrast", s.guard_min_contrast, "reject signs with less luminance std-dev")->capture_default_str();
  actions[cmd] = [o] { run(*o); };
}

}  // namespace fedsign::cli
