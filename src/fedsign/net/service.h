// The gRPC service (internal header: includes generated code). Translates the four RPCs of
// proto/fedsign/v1/federation.proto into Coordinator / DispatchingStrategy calls; every update
// is checksummed, size-limited, decoded and validated here before it can be folded.
// Every call that waits on the peer has a hard deadline (watchdog.h): a result stream must send
// its header within `header_timeout` and finish its upload by the task's upload deadline; a
// task download must finish by the task's deadline. Session calls are checked against the
// caller's certificate name and connection (coordinator.h).
#pragma once

#include <semaphore>

#include "fedsign/net/coordinator.h"
#include "fedsign/net/partition_check.h"
#include "fedsign/net/round_adapter.h"
#include "fedsign/net/validate.h"
#include "fedsign/net/watchdog.h"
#include "fedsign/v1/federation.grpc.pb.h"

namespace fedsign::net {

struct ServiceOptions {
  std::string run_id;  // run_identity.h
  std::string model;
  int input_size = 32;
  int num_classes = 43;
  std::chrono::milliseconds heartbeat{2000};
  std::chrono::milliseconds max_poll{5000};
  int64_t max_update_bytes = 0;  // 0: twice the task's blob plus 1 MiB
  bool client_certificates = false;  // mTLS: the certificate's CN must equal the client name
  PartitionCheck* partitions = nullptr;  // keeps clients on one partition (owned by the server)
  // A result stream that has not sent its header by then is cancelled (it holds a thread).
  std::chrono::milliseconds header_timeout{10000};
  // Result streams that have not sent their header yet, at most (more: RESOURCE_EXHAUSTED at
  // once, so anonymous streams cannot take every server thread).
  int max_pending_headers = 32;
  // Example-count cap (the client's declaration caps it further) and update-norm bound.
  UpdateLimits update_limits;
};

class FederationService final : public v1::Federation::Service {
 public:
  FederationService(Coordinator& coordinator, DispatchingStrategy& strategy, ServiceOptions options);

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatReply* reply) override;
  grpc::Status GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                       grpc::ServerWriter<v1::TaskMessage>* writer) override;
  grpc::Status SecAgg(grpc::ServerContext* context, const v1::SecAggRequest* request,
                      v1::SecAggReply* reply) override;
  grpc::Status SubmitResult(grpc::ServerContext* context,
                            grpc::ServerReader<v1::ResultMessage>* reader,
                            v1::SubmitReply* reply) override;

 private:
  Status receive_fit(grpc::ServerReader<v1::ResultMessage>* reader, const v1::ResultHeader& header,
                     const std::shared_ptr<Task>& task, Watchdog::Ticket& ticket);
  Status receive_evaluate(const v1::ResultHeader& header, const std::shared_ptr<Task>& task);
  // A secure-aggregation round's FIT result: the masked words only (group "masked").
  Status receive_masked(WeightGroups groups, const v1::ResultHeader& header,
                        const std::shared_ptr<Task>& task);
  Status secagg_step(fl::ClientId client, const v1::SecAggRequest& request,
                     v1::SecAggReply* reply);
  Caller caller(grpc::ServerContext* context, const std::string& session) const;

  Coordinator& coordinator_;
  DispatchingStrategy& strategy_;
  ServiceOptions options_;
  std::counting_semaphore<64> uploads_{2};  // updates decoded at once: bounds server memory
  std::counting_semaphore<64> downloads_{4};  // tasks streamed at once: bounds send buffers
  std::atomic<int> pending_headers_{0};
  Watchdog watchdog_;
};

}  // namespace fedsign::net
