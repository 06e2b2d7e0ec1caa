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
  kFailedPrecondition,  // stale round, task or model version; a task closed by its deadline
  kResourceExhausted,   // size limit exceeded, server busy
  kOutOfRange,          // an update beyond a bound (example count, update norm)
  kDeadlineExceeded,    // the caller's own deadline: never a server's answer (may_have_taken_effect)
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

// Whether a failed call may still have taken effect on the server: the connection was lost
// (UNAVAILABLE) or the caller's own deadline passed (DEADLINE_EXCEEDED) before the answer came.
// Every other failure is the server's answer that it did not. So the server refuses a late
// upload as FAILED_PRECONDITION, never as DEADLINE_EXCEEDED: a client that read that as "maybe
// taken" kept the state of an update the server never folded (SCAFFOLD's c_i, top-k's residual).
bool may_have_taken_effect(const Status& status);

// A client-supplied string made safe for a log line or an error message: printable ASCII is
// kept, every other byte (newlines, escape sequences, UTF-8) becomes \xNN, a backslash becomes
// \\, and more than `max_chars` input bytes are cut with "...". Names and peers that come from
// the network go through this before they are logged, so a client cannot forge log lines.
std::string printable(std::string_view text, std::size_t max_chars = 64);

}  // namespace fedsign::net
