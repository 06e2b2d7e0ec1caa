// The gRPC service (internal header: includes generated code). Translates the four RPCs of
// proto/fedsign/v1/federation.proto into Coordinator / DispatchingStrategy calls; every update
// is checksummed, size-limited, decoded and validated here before it can be folded.
#pragma once

#include <semaphore>

#include "fedsign/net/coordinator.h"
#include "fedsign/net/partition_check.h"
#include "fedsign/net/round_adapter.h"
#include "fedsign/v1/federation.grpc.pb.h"

namespace fedsign::net {

struct ServiceOptions {
  std::string model;
  int input_size = 32;
  int num_classes = 43;
  std::chrono::milliseconds heartbeat{2000};
  std::chrono::milliseconds max_poll{5000};
  int64_t max_update_bytes = 0;  // 0: twice the task's blob plus 1 MiB
  bool client_certificates = false;  // mTLS: the certificate's CN must equal the client name
  PartitionCheck* partitions = nullptr;  // keeps clients on one partition (owned by the server)
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
  grpc::Status SubmitResult(grpc::ServerContext* context,
                            grpc::ServerReader<v1::ResultMessage>* reader,
                            v1::SubmitReply* reply) override;

 private:
  Status receive_fit(grpc::ServerReader<v1::ResultMessage>* reader, const v1::ResultHeader& header,
                     const std::shared_ptr<Task>& task);

  Coordinator& coordinator_;
  DispatchingStrategy& strategy_;
  ServiceOptions options_;
  std::counting_semaphore<64> uploads_{2};  // updates decoded at once: bounds server memory
  std::counting_semaphore<64> downloads_{4};  // tasks streamed at once: bounds send buffers
};

}  // namespace fedsign::net
