// What SCAFFOLD adds to a simulated round per client, outside local training: loading and saving
// the client's state file (its control variate c_i), and the control-variate arithmetic.
// Usage: client_state_bench [model=compact] [reps=50] [dir=/tmp/fedsign-state-bench]
// Reports milliseconds per operation (median of reps) and the state file's size.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fedsign/core/allocator.h"
#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/client/client_state.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"
#include "median_time.h"

using namespace fedsign;

using bench::median_ms;

int main(int argc, char** argv) {
  fedsign::keep_freed_memory_mapped();  // as the fedsign CLI does (core/allocator.h)
  const std::string name = argc > 1 ? argv[1] : "compact";
  const int reps = argc > 2 ? std::stoi(argv[2]) : 50;
  const std::filesystem::path dir = argc > 3 ? argv[3] : "/tmp/fedsign-state-bench";
  torch::set_num_threads(1);
  torch::manual_seed(0);
  auto model = models::create_model(name);
  const fl::Weights x = fl::get_weights(*model);
  const fl::Weights c = fl::select(fl::zeros_like(x), fl::trainable_mask(x));
  const fl::Weights y = fl::add(x, fl::zeros_like(x));

  fl::DiskClientStateStore store(dir);
  fl::ClientState state;
  state.control = fl::clone(c);
  int64_t round = 0;
  const double save = median_ms(reps, [&] {
    store.begin_round(++round);
    store.save(7, state);
    store.commit();
  });
  const double load = median_ms(reps, [&] { (void)store.load(7); });
  const double arithmetic = median_ms(reps, [&] {
    const fl::Weights c_new = fl::scaffold_client_control(*state.control, c, x, y, 5 * 0.1);
    (void)fl::sub(c_new, *state.control);
    (void)fl::scaffold_correction(c, *state.control);
  });
  std::printf("model %s: state %.2f MB on disk\n", name.c_str(), store.bytes() / 1e6);
  std::printf("save %.2f ms, load %.2f ms, control arithmetic %.2f ms (median of %d)\n", save, load,
              arithmetic, reps);
  std::filesystem::remove_all(dir);
}
