// The 43 GTSRB sign names (shipped with fedsign, same text as signnames.csv).
#pragma once

#include <string_view>

namespace fedsign::data {

std::string_view sign_name(int class_id);  // "unknown" outside 0..42

}  // namespace fedsign::data
