#include "fedsign/net/secagg_client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <thread>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/privacy/secagg_update.h"
#include "fedsign/net/grpc_status.h"
#include "fedsign/net/secagg_wire.h"
#include "fedsign/net/wire.h"

namespace fedsign::net {

namespace privacy = fl::privacy;

namespace {
// Unmasking happens after the round deadline's upload grace at the latest; a client keeps
// asking for the survivors this long past the deadline.
constexpr int64_t kUnmaskAllowanceMs = 180000;

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SecAggSession::SecAggSession(v1::Federation::Stub& stub, std::string session,
                             const v1::TaskHeader& task, fl::ClientId client, int poll_ms)
    : stub_(stub),
      session_(std::move(session)),
      task_id_(task.task_id()),
      round_(task.round()),
      deadline_unix_ms_(task.deadline_unix_ms()),
      config_(from_proto(task.config())),
      poll_ms_(poll_ms),
      protocol_(client, fl::get_int(config_, privacy::secagg_keys::kThreshold, 0)) {}

Status SecAggSession::call(v1::SecAggRequest request, v1::SecAggReply* reply,
                           int64_t deadline_unix_ms) {
  request.set_session_id(session_);
  request.set_task_id(task_id_);
  request.set_round(round_);
  request.set_wait_ms(static_cast<uint32_t>(poll_ms_));
  grpc::ClientContext context;
  const int64_t timeout_ms = std::max<int64_t>(deadline_unix_ms - now_unix_ms(), 1000) + poll_ms_;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  return from_grpc(stub_.SecAgg(&context, request, reply));
}

Status SecAggSession::poll(v1::SecAggStep step, v1::SecAggReply* reply, int64_t deadline_unix_ms) {
  while (true) {
    v1::SecAggRequest request;
    request.set_step(step);
    *reply = v1::SecAggReply();
    if (Status s = call(request, reply, deadline_unix_ms); !s.ok()) return s;
    if (reply->ready()) return Status::Ok();
    if (now_unix_ms() >= deadline_unix_ms) {
      return {Code::kDeadlineExceeded,
              fmt::format("secure aggregation step {} still open at the deadline",
                          v1::SecAggStep_Name(step))};
    }
  }
}

Status SecAggSession::exchange_keys() {
  v1::SecAggRequest advertise;
  advertise.set_step(v1::SECAGG_ADVERTISE);
  to_proto(protocol_.advertise(), advertise.mutable_keys());
  v1::SecAggReply reply;
  if (Status s = call(advertise, &reply, deadline_unix_ms_); !s.ok()) return s;
  if (Status s = poll(v1::SECAGG_GET_KEYS, &reply, deadline_unix_ms_); !s.ok()) return s;
  std::vector<privacy::AdvertisedKeys> roster;
  for (const auto& k : reply.keys()) {
    if (Status s = from_proto(k, &roster.emplace_back()); !s.ok()) return s;
  }
  v1::SecAggRequest share;
  share.set_step(v1::SECAGG_SHARE);
  try {
    for (const auto& e : protocol_.share_keys(roster).shares) to_proto(e, share.add_shares());
  } catch (const std::exception& e) {
    return {Code::kInvalidArgument, e.what()};
  }
  if (Status s = call(share, &reply, deadline_unix_ms_); !s.ok()) return s;
  if (Status s = poll(v1::SECAGG_GET_SHARES, &reply, deadline_unix_ms_); !s.ok()) return s;
  received_.clear();
  for (const auto& c : reply.shares()) {
    if (Status s = from_proto(c, &received_.emplace_back()); !s.ok()) return s;
  }
  spdlog::info("round {}: secure aggregation keys exchanged with {} clients", round_,
               roster.size());
  return Status::Ok();
}

WeightGroups SecAggSession::masked_update(const fl::Weights& global, fl::FitResult& result) {
  bool unclipped = false;
  if (auto it = result.metrics.find(privacy::dp_keys::kUnclipped); it != result.metrics.end()) {
    unclipped = it->second > 0.5;
    result.metrics.erase(it);
  }
  int64_t clamped = 0;
  const std::vector<uint32_t> input = privacy::encode_secagg_input(
      global, result.weights, privacy::secagg_codec(config_), unclipped, &clamped);
  if (clamped > 0) {
    spdlog::warn("round {}: {} update values beyond the fixed-point bound were clamped", round_,
                 clamped);
  }
  privacy::MaskedInput masked = protocol_.mask(received_, input);
  torch::Tensor words = torch::empty({static_cast<int64_t>(masked.words.size())}, torch::kInt32);
  std::memcpy(words.data_ptr<int32_t>(), masked.words.data(), masked.words.size() * sizeof(uint32_t));
  fl::Weights w;
  w.names = {"words"};
  w.tensors = {words};
  return {{kMaskedGroup, std::move(w)}};
}

Status SecAggSession::unmask() {
  v1::SecAggReply reply;
  const int64_t until = deadline_unix_ms_ + kUnmaskAllowanceMs;
  if (Status s = poll(v1::SECAGG_GET_SURVIVORS, &reply, until); !s.ok()) return s;
  std::vector<privacy::ClientId> survivors(reply.survivors().begin(), reply.survivors().end());
  v1::SecAggRequest answer;
  answer.set_step(v1::SECAGG_UNMASK);
  try {
    to_proto(protocol_.unmask(survivors), &answer);
  } catch (const std::exception& e) {
    return {Code::kInvalidArgument, e.what()};
  }
  if (Status s = call(answer, &reply, until); !s.ok()) return s;
  spdlog::info("round {}: secure aggregation unmasking answered ({} survivors)", round_,
               survivors.size());
  return Status::Ok();
}

}  // namespace fedsign::net
