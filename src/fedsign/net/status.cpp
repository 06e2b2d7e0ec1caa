#include "fedsign/net/status.h"

#include <fmt/format.h>

#include <algorithm>

namespace fedsign::net {

std::string to_string(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kUnauthenticated: return "UNAUTHENTICATED";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kOutOfRange: return "OUT_OF_RANGE";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::to_string() const {
  return ok() ? "OK" : net::to_string(code) + ": " + message;
}

bool may_have_taken_effect(const Status& status) {
  return status.code == Code::kUnavailable || status.code == Code::kDeadlineExceeded;
}

}  // namespace fedsign::net

namespace fedsign::net {

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out;
  const std::size_t n = std::min(text.size(), max_chars);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') out += "\\\\";
    else if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

}  // namespace fedsign::net
