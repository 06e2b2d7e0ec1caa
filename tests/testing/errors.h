// Asserting on fedsign::Error messages, for every layer's tests: error_of() and EXPECT_ERROR.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "fedsign/core/check.h"

namespace fedsign::testing {

// The message of the fedsign::Error `f` throws, or "" when it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const fedsign::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace fedsign::testing

// EXPECT_ERROR(statement, "substring"): statement throws fedsign::Error containing substring.
#define EXPECT_ERROR(statement, substring)                                              \
  do {                                                                                  \
    const std::string message_ = ::fedsign::testing::error_of([&] { statement; });      \
    EXPECT_NE(message_.find(substring), std::string::npos)                              \
        << "error message: " << message_ << "\nexpected to contain: " << (substring);   \
  } while (false)
