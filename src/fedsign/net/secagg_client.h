// The client's side of secure aggregation for one FIT task whose config asks for it (internal
// header: includes generated code). Around local training:
//   exchange_keys()  before training: advertise keys, receive everyone's, send encrypted shares
//                    of the self-mask seed and mask key, receive the shares addressed to us;
//   masked_update()  after training: the (DP-clipped and noised) update as fixed-point words,
//                    masked, ready for SubmitResult;
//   unmask()         after the masked update was accepted: learn the survivors and reveal, per
//                    other client, the share that removes its masks (never both kinds).
// Keys come from OpenSSL's CSPRNG, fresh per round. Each long poll repeats until its step
// closes or the task's deadline (plus the unmasking allowance) passes.
#pragma once

#include <cstdint>
#include <string>

#include "fedsign/fl/messages.h"
#include "fedsign/fl/privacy/secagg.h"
#include "fedsign/net/blob.h"
#include "fedsign/net/status.h"
#include "fedsign/v1/federation.grpc.pb.h"

namespace fedsign::net {

class SecAggSession {
 public:
  SecAggSession(v1::Federation::Stub& stub, std::string session, const v1::TaskHeader& task,
                fl::ClientId client, int poll_ms);

  Status exchange_keys();
  // Consumes the "dp_unclipped" metric of `result` (it travels masked, inside the sum).
  WeightGroups masked_update(const fl::Weights& global, fl::FitResult& result);
  Status unmask();

 private:
  Status call(v1::SecAggRequest request, v1::SecAggReply* reply, int64_t deadline_unix_ms);
  Status poll(v1::SecAggStep step, v1::SecAggReply* reply, int64_t deadline_unix_ms);

  v1::Federation::Stub& stub_;
  std::string session_, task_id_;
  int64_t round_, deadline_unix_ms_;
  fl::Config config_;
  int poll_ms_;
  fl::privacy::SecAggClient protocol_;
  std::vector<fl::privacy::EncryptedShares> received_;
};

}  // namespace fedsign::net
