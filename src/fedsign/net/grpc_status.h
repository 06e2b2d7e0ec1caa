// The one place where net::Status and grpc::Status meet (internal header: includes gRPC).
#pragma once

#include <grpcpp/support/status.h>

#include "fedsign/net/status.h"

namespace fedsign::net {

grpc::Status to_grpc(const Status& status);
Status from_grpc(const grpc::Status& status);

}  // namespace fedsign::net
