// Error type and input validation used across fedsign.
//
// Library code throws fedsign::Error with a one-line message naming what failed and where
// (file, line, client...). Only `main` (and the network client's task handler) catch it.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace fedsign {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace fedsign

// FEDSIGN_CHECK(cond, "fmt {}", args...): throws fedsign::Error with the formatted message.
#define FEDSIGN_CHECK(cond, ...)                                 \
  do {                                                           \
    if (!(cond)) throw ::fedsign::Error(fmt::format(__VA_ARGS__)); \
  } while (false)

#define FEDSIGN_FAIL(...) throw ::fedsign::Error(fmt::format(__VA_ARGS__))
