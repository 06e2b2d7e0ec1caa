#include "fedsign/net/grpc_status.h"

namespace fedsign::net {

grpc::Status to_grpc(const Status& s) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (s.code) {
    case Code::kOk: return grpc::Status::OK;
    case Code::kInvalidArgument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case Code::kUnauthenticated: code = grpc::StatusCode::UNAUTHENTICATED; break;
    case Code::kPermissionDenied: code = grpc::StatusCode::PERMISSION_DENIED; break;
    case Code::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case Code::kFailedPrecondition: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case Code::kResourceExhausted: code = grpc::StatusCode::RESOURCE_EXHAUSTED; break;
    case Code::kOutOfRange: code = grpc::StatusCode::OUT_OF_RANGE; break;
    case Code::kDeadlineExceeded: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case Code::kUnavailable: code = grpc::StatusCode::UNAVAILABLE; break;
    case Code::kInternal: code = grpc::StatusCode::INTERNAL; break;
  }
  return {code, s.message};
}

Status from_grpc(const grpc::Status& s) {
  Code code = Code::kInternal;
  switch (s.error_code()) {
    case grpc::StatusCode::OK: return Status::Ok();
    case grpc::StatusCode::INVALID_ARGUMENT: code = Code::kInvalidArgument; break;
    case grpc::StatusCode::UNAUTHENTICATED: code = Code::kUnauthenticated; break;
    case grpc::StatusCode::PERMISSION_DENIED: code = Code::kPermissionDenied; break;
    case grpc::StatusCode::NOT_FOUND: code = Code::kNotFound; break;
    case grpc::StatusCode::FAILED_PRECONDITION: code = Code::kFailedPrecondition; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = Code::kResourceExhausted; break;
    case grpc::StatusCode::OUT_OF_RANGE: code = Code::kOutOfRange; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: code = Code::kDeadlineExceeded; break;
    case grpc::StatusCode::UNAVAILABLE: code = Code::kUnavailable; break;
    default: code = Code::kInternal; break;
  }
  return {code, s.error_message()};
}

}  // namespace fedsign::net
