#include "fedsign/net/client_faults.h"

#include <csignal>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <thread>
#include <vector>

#include "fedsign/core/check.h"
#include "fedsign/core/read_file.h"
#include "fedsign/net/grpc_status.h"
#include "fedsign/net/wire.h"

namespace fedsign::net {

bool known_fault(const std::string& fault) {
  for (const char* k : {"nan", "shape", "stale", "slow", "inflate", "huge", "half", "replay",
                        "replay-only", "steal", "flood", "die-download", "secagg-drop"}) {
    if (fault == k) return true;
  }
  return false;
}

std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& o, bool own_connection) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!o.tls.enabled()) {
    return grpc::CreateCustomChannel(o.server, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  if (!o.tls.ca.empty()) ssl.pem_root_certs = read_file(o.tls.ca);
  if (!o.tls.cert.empty()) {
    FEDSIGN_CHECK(!o.tls.key.empty(), "--tls-cert needs --tls-key");
    ssl.pem_cert_chain = read_file(o.tls.cert);
    ssl.pem_private_key = read_file(o.tls.key);
  }
  if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  return grpc::CreateCustomChannel(o.server, grpc::SslCredentials(ssl), args);
}

void corrupt_update(const std::string& fault, fl::FitResult& result, int64_t* round) {
  auto& first = result.weights.tensors[0];
  if (fault == "nan") {
    first = torch::full_like(first, NAN);
  } else if (fault == "shape") {
    auto sizes = first.sizes().vec();
    sizes[0] += 1;
    first = torch::zeros(sizes, first.options());
  } else if (fault == "stale") {
    *round -= 1;
  } else if (fault == "inflate") {
    result.num_examples *= 1000;
  } else if (fault == "huge") {
    first = torch::full_like(first, 1e30);
  }
}

void submit_half_and_hang(v1::Federation::Stub& stub, const v1::ResultHeader& header,
                          const Blob& blob) {
  grpc::ClientContext context;
  v1::SubmitReply reply;
  auto writer = stub.SubmitResult(&context, &reply);
  v1::ResultMessage message;
  *message.mutable_header() = header;
  writer->Write(message);
  v1::ResultMessage half;
  half.set_chunk(blob.bytes.substr(0, blob.bytes.size() / 2));
  writer->Write(half);
  spdlog::warn("TEST FAULT half: sent {} of {} bytes, now stalling", blob.bytes.size() / 2,
               blob.bytes.size());
  std::this_thread::sleep_for(std::chrono::hours(1));
  std::abort();
}

void use_session_from_another_connection(const ClientOptions& o, const std::string& session) {
  auto stub = v1::Federation::NewStub(make_channel(o, true));
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::HeartbeatRequest request;
    request.set_session_id(session);
    v1::HeartbeatReply reply;
    const Status s = from_grpc(stub->Heartbeat(&context, request, &reply));
    spdlog::warn("TEST FAULT steal: heartbeat with the session from another connection -> {}",
                 s.to_string());
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetTaskRequest request;
  request.set_session_id(session);
  request.set_wait_ms(100);
  auto reader = stub->GetTask(&context, request);
  v1::TaskMessage message;
  int messages = 0;
  while (reader->Read(&message)) ++messages;
  const Status s = from_grpc(reader->Finish());
  spdlog::warn("TEST FAULT steal: get_task with the session from another connection -> {} ({} "
               "messages)", s.to_string(), messages);
}

void flood(const ClientOptions& o) {
  struct Stream {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Federation::Stub> stub;
    std::unique_ptr<grpc::ClientContext> context;
    v1::SubmitReply reply;
    std::unique_ptr<grpc::ClientWriter<v1::ResultMessage>> writer;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < kFloodStreams; ++i) {
    auto s = std::make_unique<Stream>();
    s->channel = make_channel(o, true);
    s->stub = v1::Federation::NewStub(s->channel);
    s->context = std::make_unique<grpc::ClientContext>();
    s->writer = s->stub->SubmitResult(s->context.get(), &s->reply);
    streams.push_back(std::move(s));
  }
  spdlog::warn("TEST FAULT flood: {} unauthenticated result streams open", streams.size());
  // Wait for the server to end every stream (refused at once beyond its pending-header cap, or
  // cancelled at its header timeout) and say how long that took: a server without a header
  // timeout never ends them, and this line never comes (tests/faults/identity_test.cpp).
  const auto opened = std::chrono::steady_clock::now();
  std::map<std::string, int> endings;
  for (auto& s : streams) ++endings[to_string(from_grpc(s->writer->Finish()).code)];
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - opened;
  std::string counts;
  for (const auto& [code, n] : endings) counts += fmt::format(" {} {}", n, code);
  spdlog::warn("TEST FAULT flood: all {} streams ended by the server within {:.2f} s:{}",
               streams.size(), took.count(), counts);
  std::this_thread::sleep_for(std::chrono::hours(1));
  std::abort();
}

void die_mid_download() {
  spdlog::warn("TEST FAULT die-download: killing this client in the middle of a model download");
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
  std::abort();  // not reached
}

}  // namespace fedsign::net
