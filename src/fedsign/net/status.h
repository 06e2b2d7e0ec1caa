// Status values for the network boundary (STYLE.md 7): library code below `net` throws
// fedsign::Error; the network layer reports outcomes as Status, and grpc_status.h converts
// to/from grpc::Status in exactly one place. Plain value type, thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace fedsign::net {

enum class Code {
  kOk,
  kInvalidArgument,     // a malformed or rejected update
  kUnauthenticated,     // unknown client, bad token or certificate
  kPermissionDenied,    // revoked client
  kNotFound,            // unknown session: register again
  kFailedPrecondition,  // stale round, task or model version
  kResourceExhausted,   // size limit exceeded, server busy
  kOutOfRange,          // an update beyond a bound (example count, update norm)
  kDeadlineExceeded,
  kUnavailable,         // server going away / not reachable
  kInternal,
};

std::string to_string(Code code);

struct Status {
  Code code = Code::kOk;
  std::string message;

  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
  static Status Error(Code code, std::string message) { return {code, std::move(message)}; }
  std::string to_string() const;
};

// A client-supplied string made safe for a log line or an error message: printable ASCII is
// kept, every other byte (newlines, escape sequences, UTF-8) becomes \xNN, a backslash becomes
// \\, and more than `max_chars` input bytes are cut with "...". Names and peers that come from
// the network go through this before they are logged, so a client cannot forge log lines.
std::string printable(std::string_view text, std::size_t max_chars = 64);

}  // namespace fedsign::net
