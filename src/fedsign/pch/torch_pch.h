// Precompiled header: LibTorch is ~2/3 of the compile time of any file that uses it.
#pragma once
#include <torch/torch.h>
