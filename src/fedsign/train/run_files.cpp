#include "fedsign/train/run_files.h"

#include <torch/serialize.h>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/train/trainer.h"
#include "fedsign/train/weight_ema.h"

namespace fedsign::train {

void save_checkpoint(const std::filesystem::path& file, const Trainer& trainer,
                     const CheckpointState& state, const WeightEma* ema) {
  torch::serialize::OutputArchive archive;
  trainer.save(archive);
  if (ema) {
    torch::serialize::OutputArchive ema_archive;
    ema->save(ema_archive);
    archive.write("weight_ema", ema_archive);
  }
  archive.write("format", c10::IValue(std::string("fedsign-checkpoint-1")));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("best_val_accuracy", c10::IValue(state.best_val_accuracy));
  archive.write("best_epoch", c10::IValue(state.best_epoch));
  archive.write("history", c10::IValue(state.history_json));
  write_atomically(file, [&](const std::filesystem::path& tmp) { archive.save_to(tmp.string()); });
}

CheckpointState load_checkpoint(const std::filesystem::path& file, Trainer& trainer,
                                WeightEma* ema) {
  FEDSIGN_CHECK(std::filesystem::exists(file), "{}: no checkpoint to resume from", file.string());
  CheckpointState state;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    c10::IValue format, epoch, best, best_epoch, history;
    archive.read("format", format);
    FEDSIGN_CHECK(format.isString() && format.toStringRef() == "fedsign-checkpoint-1",
                  "{}: not a fedsign checkpoint", file.string());
    trainer.load(archive);
    torch::serialize::InputArchive ema_archive;
    const bool has_ema = archive.try_read("weight_ema", ema_archive);
    FEDSIGN_CHECK(has_ema == (ema != nullptr),
                  "{}: the checkpoint was written {} a weight EMA; resume with the run's own "
                  "--weight-ema",
                  file.string(), has_ema ? "with" : "without");
    if (ema) ema->load(ema_archive);
    archive.read("epoch", epoch);
    archive.read("best_val_accuracy", best);
    archive.read("best_epoch", best_epoch);
    archive.read("history", history);
    state.epoch = epoch.toInt();
    state.best_val_accuracy = best.toDouble();
    state.best_epoch = best_epoch.toInt();
    state.history_json = history.toStringRef();
  } catch (const fedsign::Error&) {
    throw;
  } catch (const std::exception& e) {
    // c10::Error messages span many lines with a C++ backtrace; keep the first.
    std::string what = e.what();
    FEDSIGN_FAIL("{}: truncated or corrupt checkpoint ({})", file.string(),
                 what.substr(0, what.find('\n')));
  }
  return state;
}

}  // namespace fedsign::train
