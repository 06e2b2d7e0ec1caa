// Status values for the network boundary (STYLE.md 7): library code below `net` throws
// fedsign::Error; the network layer reports outcomes as Status, and grpc_status.h converts
// to/from grpc::Status in exactly one place. Plain value type, thread-compatible.
#pragma once

#include <string>
#include <utility>

namespace fedsign::net {

enum class Code {
  kOk,
  kInvalidArgument,     // a malformed or rejected update
  kUnauthenticated,     // unknown client, bad token or certificate
  kPermissionDenied,    // revoked client
  kNotFound,            // unknown session: register again
  kFailedPrecondition,  // stale round, task or model version
  kResourceExhausted,   // size limit exceeded
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

}  // namespace fedsign::net
