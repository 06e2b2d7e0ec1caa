#include "fedsign/experiments/renders.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
#include "fedsign/data/gtsrb_reader.h"

namespace fedsign::experiments {
namespace fs = std::filesystem;

namespace {

// The renderer is not versioned by hand: the stamp of a rendered folder holds a hash of the
// first samples of every requested class, rendered afresh on each run, so any change of the
// renderer's pixels (or of the pictograms) re-renders. Bump the layout version only when the
// folder's file layout (names, CSV columns) changes without changing pixels.
constexpr int kSynthLayoutVersion = 1;
constexpr int kFingerprintSamplesPerClass = 2;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

std::string render_fingerprint(const std::vector<vision::Pictogram>& pictograms,
                               const vision::BackgroundSource& backgrounds,
                               const vision::SynthOptions& options, uint64_t seed,
                               const std::vector<int>& classes) {
  Hasher hasher;
  for (int c : classes) {
    FEDSIGN_CHECK(c >= 0 && c < static_cast<int>(pictograms.size()) && !pictograms[c].bgra.empty(),
                  "no pictogram for class {}", c);
    for (int index = 0; index < kFingerprintSamplesPerClass; ++index) {
      const vision::SynthSample s = vision::synthesize(pictograms[c], backgrounds, options, seed, index);
      const cv::Mat image = s.image.isContinuous() ? s.image : s.image.clone();
      hasher.update_value(c);
      hasher.update_value(image.rows);
      hasher.update_value(image.cols);
      hasher.update_value(image.type());
      hasher.update(image.data, image.total() * image.elemSize());
      hasher.update_value(s.roi);
    }
  }
  return fmt::format("{:016x}", hasher.digest());
}

std::string render_stamp(const RenderRequest& r, const std::string& fingerprint) {
  const auto& s = r.synth;
  std::ostringstream o;
  o << "fedsign-synth layout " << kSynthLayoutVersion << "\nrenders " << fingerprint << "\nmeta "
    << fs::absolute(r.meta_dir).lexically_normal().string() << "\nbackgrounds "
    << r.backgrounds.string() << "\nseed " << r.seed << "\nper_class " << r.per_class
    << "\nclasses";
  for (int k : r.classes) o << ' ' << k;
  o << "\nsize " << s.min_sign_size << '-' << s.max_sign_size << " margin " << s.margin
    << " rot " << s.max_rotate_degrees << " slant " << s.max_slant << " offset " << s.max_offset
    << " blur " << s.max_gaussian_blur << ' ' << s.motion_blur_probability << ' '
    << s.max_motion_blur << " bc " << s.brightness << ' ' << s.contrast << " noise " << s.noise
    << " jpeg " << s.jpeg_probability << ' ' << s.min_jpeg_quality << " occ "
    << s.occlusion_probability << ' ' << s.max_occlusion << " shadow " << s.shadow_probability
    << " grad " << s.gradient_probability << " app " << s.appearance_strength << " guards "
    << s.guard_min_sign_pixels << ' ' << s.guard_max_blur << ' ' << s.guard_min_contrast << '\n';
  return o.str();
}

data::ImageSet prepare_renders(const RenderRequest& request, double* images_per_minute) {
  FEDSIGN_CHECK(!request.out_dir.empty(), "no folder for the rendered images");
  const auto pictograms = vision::load_pictograms(vision::find_meta_dir(request.meta_dir));
  const vision::BackgroundSource backgrounds =
      request.backgrounds.empty() ? vision::BackgroundSource()
                                  : vision::BackgroundSource(request.backgrounds);
  const std::string stamp = render_stamp(
      request, render_fingerprint(pictograms, backgrounds, request.synth, request.seed,
                                  request.classes));
  const fs::path stamp_file = request.out_dir / "synth-request.txt";
  if (images_per_minute) *images_per_minute = 0;
  if (!(fs::exists(stamp_file) && read_file(stamp_file) == stamp &&
        fs::exists(request.out_dir / "Train.csv"))) {
    if (fs::exists(stamp_file)) {
      spdlog::info("the rendered images in {} were made by another request or renderer; "
                   "rendering again", request.out_dir.string());
    }
    vision::DatasetWriteOptions write;
    write.classes = request.classes;
    write.per_class = request.per_class;
    write.seed = request.seed;
    write.threads = request.threads;
    write.progress = request.load.progress;
    fs::remove(stamp_file);
    const auto report = vision::write_synthetic_dataset(pictograms, backgrounds, request.synth,
                                                        write, request.out_dir);
    spdlog::info("rendered {} images in {:.1f} s ({:.0f} images/min)", report.images,
                 report.seconds, report.images_per_minute());
    if (images_per_minute) *images_per_minute = report.images_per_minute();
    write_text_atomically(stamp_file, stamp);
  } else {
    spdlog::info("reusing the rendered images in {}", request.out_dir.string());
  }
  data::LoadReport load_report;
  return data::load_images(data::find_dataset(request.out_dir), request.load, &load_report);
}

}  // namespace fedsign::experiments
