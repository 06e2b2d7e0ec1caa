// The gRPC service's limits on anonymous result streams, through an in-process server on
// 127.0.0.1 and a raw stub (no fedsign process): beyond --max-pending-headers, a stream that
// has not sent its header yet is refused at once with RESOURCE_EXHAUSTED, and the place is
// given back when a waiting stream ends.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "fedsign/fl/strategy/strategy.h"
#include "fedsign/net/coordinator.h"
#include "fedsign/net/round_adapter.h"
#include "fedsign/net/service.h"

namespace fedsign::net {
namespace {

using namespace std::chrono_literals;

// A FederationService with `options` on a free loopback port.
class InProcessServer {
 public:
  explicit InProcessServer(const ServiceOptions& options)
      : coordinator_(CoordinatorOptions{}, tokens_),
        strategy_(fl::make_strategy("fedavg", fl::StrategyOptions{})),
        dispatch_(*strategy_, coordinator_, 60s),
        service_(coordinator_, dispatch_, options) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~InProcessServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }
  bool started() const { return server_ != nullptr && port_ > 0; }
  std::unique_ptr<v1::Federation::Stub> stub() const {
    return v1::Federation::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                       grpc::InsecureChannelCredentials()));
  }

 private:
  TokenStore tokens_;
  Coordinator coordinator_;
  std::unique_ptr<fl::Strategy> strategy_;
  DispatchingStrategy dispatch_;
  FederationService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;  // last: shut down before the service goes
};

std::chrono::system_clock::time_point in_10s() { return std::chrono::system_clock::now() + 10s; }

// Opens a result stream, ends it without a header, and returns the server's answer.
grpc::Status empty_stream(v1::Federation::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(in_10s());
  v1::SubmitReply reply;
  auto writer = stub.SubmitResult(&context, &reply);
  writer->WritesDone();
  return writer->Finish();
}

TEST(ResultStreams, BeyondThePendingHeaderCapAreRefusedAtOnce) {
  ServiceOptions options;
  options.max_pending_headers = 1;
  options.header_timeout = 30s;  // longer than the test, which ends its streams itself
  InProcessServer server(options);
  ASSERT_TRUE(server.started());
  auto stub = server.stub();

  // A stream that sends nothing waits for its header and takes the only place; another one is
  // refused without waiting. Tried a few times: a stream's handler may start after the next
  // stream's (then the next one is admitted, or the waiting one refused).
  bool refused = false;
  grpc::Status second;
  for (int attempt = 0; attempt < 20 && !refused; ++attempt) {
    grpc::ClientContext waiting_context;
    waiting_context.set_deadline(in_10s());
    v1::SubmitReply waiting_reply;
    auto waiting = stub->SubmitResult(&waiting_context, &waiting_reply);
    std::this_thread::sleep_for(100ms);
    second = empty_stream(*stub);
    refused = second.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
    waiting->WritesDone();
    const grpc::Status first = waiting->Finish();
    if (refused) {  // the waiting stream was admitted, and answered once it ended
      EXPECT_EQ(first.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << first.error_message();
    }
  }
  EXPECT_TRUE(refused) << "a second stream waiting for its header was admitted: "
                       << second.error_code() << " " << second.error_message();
  // The waiting stream ended: its place is free again.
  const grpc::Status third = empty_stream(*stub);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << third.error_message();
}

}  // namespace
}  // namespace fedsign::net
