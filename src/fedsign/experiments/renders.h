// Renders of the sign pictograms as a decoded image set, cached on disk: the one way every
// command (rare signs, federated clients' public data) turns pictograms into training images.
// A folder is reused only when its stamp (the request and a hash of freshly rendered samples)
// matches, so a changed renderer or pictogram never serves stale images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fedsign/data/image_loader.h"
#include "fedsign/data/image_set.h"
#include "fedsign/vision/synth.h"

namespace fedsign::experiments {

// Track ids of rendered images start here, far above the real ones (class * 100000 + track, and
// the official test set's 1e9 + row sits in the test subset only), so that no render shares a
// track with a photo: a split by track never puts a render and a photo into one track.
constexpr int64_t kRenderTrackOffset = 1'000'000'000;

struct RenderRequest {
  std::filesystem::path meta_dir;     // pictograms (a folder holding Meta/ or the pictograms)
  std::filesystem::path backgrounds;  // optional photo folder; empty: procedural backgrounds
  std::filesystem::path out_dir;      // where the rendered images go (reused if they match)
  std::vector<int> classes;           // which pictograms
  int per_class = 300;
  uint64_t seed = 1;
  int threads = 0;
  vision::SynthOptions synth;
  data::LoadOptions load;             // same decoding as the real data (size, contrast)
};

// A hash (hex) of the first samples of each class in `classes` rendered with these inputs: it
// changes whenever the renderer's pixels do, so a folder rendered by an older renderer is
// never mistaken for a current one. Costs a few milliseconds per class.
std::string render_fingerprint(const std::vector<vision::Pictogram>& pictograms,
                               const vision::BackgroundSource& backgrounds,
                               const vision::SynthOptions& options, uint64_t seed,
                               const std::vector<int>& classes);

// What a rendered folder was made from (request options + render_fingerprint()); a folder
// whose stamp differs is rendered again.
std::string render_stamp(const RenderRequest& request, const std::string& fingerprint);

// Renders (or reuses, when out_dir holds the same request) and decodes the images.
// `images_per_minute` (optional) is set to the render rate, 0 when the folder was reused.
data::ImageSet prepare_renders(const RenderRequest& request, double* images_per_minute = nullptr);

}  // namespace fedsign::experiments
