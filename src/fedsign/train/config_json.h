// TrainConfig <-> JSON (the config snapshot of a run directory, and checkpoints).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "fedsign/train/train_config.h"

namespace fedsign::train {

nlohmann::json to_json(const TrainConfig& config);

}  // namespace fedsign::train
