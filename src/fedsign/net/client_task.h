// How the client reads and checks one task from its GetTask stream (internal header: includes
// generated code), apart from the gRPC call so that a test can feed it a fake stream. What it
// refuses comes from a server it verified but does not trust blindly (docs/security.md).
#pragma once

#include <grpcpp/support/sync_stream.h>

#include <cstdint>
#include <functional>

#include "fedsign/net/blob.h"
#include "fedsign/net/status.h"
#include "fedsign/v1/federation.pb.h"

namespace fedsign::net {

struct ReceivedTask {
  v1::TaskHeader header;
  WeightGroups groups;  // decoded FIT/EVALUATE model (and control variate)
};

// Reads `reader` to its end (then Finish()). The announced blob size must match its tensor
// list and stay within `max_bytes`, checked on the header before a byte is reserved: otherwise
// `cancel` is called and nothing more is read. The model must then decode and be finite.
// *refused: the task arrived but this client will not run it (too large, inconsistent, not
// finite); otherwise a failure is the server's or the network's. `die_mid_fit_download`:
// --fault die-download (client_faults.h).
Status receive_task(grpc::ClientReaderInterface<v1::TaskMessage>& reader,
                    const std::function<void()>& cancel, int64_t max_bytes,
                    ReceivedTask* received, bool* refused, bool die_mid_fit_download = false);

}  // namespace fedsign::net
