#include "fedsign/net/client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "fedsign/core/check.h"
#include "fedsign/core/read_file.h"
#include "fedsign/net/grpc_status.h"
#include "fedsign/net/wire.h"
#include "fedsign/v1/federation.grpc.pb.h"

namespace fedsign::net {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& o) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
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

void set_deadline(grpc::ClientContext& context, milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

class Backoff {
 public:
  Backoff(double initial, double max) : initial_(initial), max_(max) {}
  void reset() { attempt_ = 0; }
  // Sleeps initial * 2^attempt (capped) times a jitter in [0.5, 1].
  void sleep() {
    const double base = std::min(max_, initial_ * std::pow(2.0, attempt_++));
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    const double seconds = base * jitter(rng_);
    spdlog::info("retrying in {:.1f} s", seconds);
    std::this_thread::sleep_for(milliseconds(static_cast<int64_t>(seconds * 1000)));
  }

 private:
  double initial_, max_;
  int attempt_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

// Sends Heartbeat every `period` while alive.
class Heartbeat {
 public:
  Heartbeat(v1::Federation::Stub& stub, std::string session, milliseconds period)
      : thread_([this, &stub, session = std::move(session), period] {
          std::unique_lock lock(mutex_);
          while (!stop_) {
            cv_.wait_for(lock, period);
            if (stop_) break;
            const std::string state = state_;
            lock.unlock();
            grpc::ClientContext context;
            set_deadline(context, milliseconds(5000));
            v1::HeartbeatRequest request;
            request.set_session_id(session);
            request.set_state(state);
            v1::HeartbeatReply reply;
            const grpc::Status s = stub.Heartbeat(&context, request, &reply);
            if (!s.ok()) spdlog::debug("heartbeat: {}", s.error_message());
            lock.lock();
          }
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void set_state(const std::string& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string state_ = "idle";
  std::thread thread_;
};

bool refused(const Status& s) {
  return s.code == Code::kUnauthenticated || s.code == Code::kPermissionDenied ||
         s.code == Code::kInvalidArgument;
}

struct Received {
  v1::TaskHeader header;
  WeightGroups groups;
};

// One GetTask call. *received.header.kind() tells what came.
Status get_task(v1::Federation::Stub& stub, const std::string& session, int poll_ms,
                Received* received) {
  grpc::ClientContext context;
  set_deadline(context, milliseconds(poll_ms + 120000));
  v1::GetTaskRequest request;
  request.set_session_id(session);
  request.set_wait_ms(static_cast<uint32_t>(poll_ms));
  auto reader = stub.GetTask(&context, request);
  v1::TaskMessage message;
  std::string bytes;
  bool have_header = false;
  Status chunk_status;
  while (reader->Read(&message)) {
    if (message.payload_case() == v1::TaskMessage::kHeader) {
      received->header = message.header();
      have_header = true;
    } else if (have_header && chunk_status.ok()) {
      chunk_status = append_chunk(&bytes, message.chunk(), received->header.blob().total_bytes());
    }
  }
  if (Status s = from_grpc(reader->Finish()); !s.ok()) return s;
  if (!have_header) return {Code::kInternal, "empty task stream"};
  if (!chunk_status.ok()) return chunk_status;
  const auto kind = received->header.kind();
  if (kind != v1::TASK_KIND_FIT && kind != v1::TASK_KIND_EVALUATE) return Status::Ok();
  std::vector<TensorSpec> specs;
  if (Status s = from_proto(received->header.blob(), &specs); !s.ok()) return s;
  return decode(specs, bytes, received->header.blob().checksum(), {}, &received->groups);
}

void apply_fault(const std::string& fault, fl::FitResult& result, int64_t* round) {
  if (fault == "nan") {
    result.weights.tensors[0] = torch::full_like(result.weights.tensors[0], NAN);
  } else if (fault == "shape") {
    auto sizes = result.weights.tensors[0].sizes().vec();
    sizes[0] += 1;
    result.weights.tensors[0] = torch::zeros(sizes, result.weights.tensors[0].options());
  } else if (fault == "stale") {
    *round -= 1;
  }
}

Status submit(v1::Federation::Stub& stub, const v1::ResultHeader& header, const Blob* blob,
              std::string* reason) {
  grpc::ClientContext context;
  set_deadline(context, milliseconds(600000));
  v1::SubmitReply reply;
  auto writer = stub.SubmitResult(&context, &reply);
  v1::ResultMessage message;
  *message.mutable_header() = header;
  bool ok = writer->Write(message);
  if (ok && blob) {
    ok = for_each_chunk(blob->bytes, [&](const std::string& chunk) {
      v1::ResultMessage m;
      m.set_chunk(chunk);
      return writer->Write(m);
    });
  }
  writer->WritesDone();
  Status s = from_grpc(writer->Finish());
  *reason = reply.reason();
  return s;
}

}  // namespace

int64_t run_client(const ClientOptions& o, const data::ImageSet& set, const fl::ClientData& data) {
  FEDSIGN_CHECK(!o.name.empty(), "--name is required");
  FEDSIGN_CHECK(o.fault.empty() || o.fault == "nan" || o.fault == "shape" || o.fault == "stale" ||
                    o.fault == "slow",
                "unknown --fault '{}'", o.fault);
  if (!o.fault.empty()) spdlog::warn("TEST FAULT '{}' enabled: this client misbehaves on purpose", o.fault);
  const fl::BnMode bn_mode = fl::parse_bn_mode(o.bn_mode);
  const fl::Faults no_faults;
  fl::ClientState state;
  std::unique_ptr<fl::Worker> worker;
  Backoff backoff(o.backoff_initial_s, o.backoff_max_s);
  auto last_contact = Clock::now();
  int64_t tasks_done = 0;
  const auto give_up = milliseconds(static_cast<int64_t>(o.give_up_s * 1000));

  while (true) {
    auto channel = make_channel(o);
    auto stub = v1::Federation::NewStub(channel);
    v1::RegisterRequest request;
    request.set_protocol_version(v1::PROTOCOL_VERSION_1);
    request.set_name(o.name);
    request.set_token(o.token);
    request.set_num_train_examples(static_cast<int64_t>(data.train.size()));
    request.set_num_test_examples(static_cast<int64_t>(data.test.size()));
    request.set_partition(o.partition);
    request.set_partition_index(o.partition_index);
    for (const char* c : {"fit", "evaluate", "fedprox", "scaffold"}) request.add_capabilities(c);
    v1::RegisterReply reply;
    Status s;
    {
      grpc::ClientContext context;
      set_deadline(context, milliseconds(10000));
      s = from_grpc(stub->Register(&context, request, &reply));
    }
    if (!s.ok()) {
      if (refused(s) || s.code == Code::kFailedPrecondition) {
        FEDSIGN_FAIL("server {} refused client '{}': {}", o.server, o.name, s.to_string());
      }
      FEDSIGN_CHECK(Clock::now() - last_contact < give_up,
                    "giving up: server {} unreachable for {} s ({})", o.server, o.give_up_s,
                    s.to_string());
      spdlog::warn("cannot register with {}: {}", o.server, s.to_string());
      backoff.sleep();
      continue;
    }
    backoff.reset();
    last_contact = Clock::now();
    spdlog::info("registered with {} as client {} (model {}, {} px)", o.server, reply.client_id(),
                 reply.model(), reply.input_size());
    if (!worker) {
      FEDSIGN_CHECK(set.height == reply.input_size(),
                    "the server's model takes {} px images, the data was loaded at {} px (--size)",
                    reply.input_size(), set.height);
      train::TrainConfig config = o.train;
      config.model = reply.model();
      worker = std::make_unique<fl::Worker>(config, reply.input_size(), reply.num_classes());
    }
    Heartbeat heartbeat(*stub, reply.session_id(), milliseconds(std::max<uint32_t>(200, reply.heartbeat_ms())));

    bool reregister_now = false;
    while (true) {
      Received task;
      s = get_task(*stub, reply.session_id(), o.poll_ms, &task);
      if (!s.ok()) {
        if (s.code == Code::kPermissionDenied) {
          FEDSIGN_FAIL("server {} refused client '{}': {}", o.server, o.name, s.to_string());
        }
        spdlog::warn("lost the server: {}", s.to_string());
        reregister_now = s.code == Code::kNotFound;
        break;
      }
      last_contact = Clock::now();
      const v1::TaskHeader& header = task.header;
      if (header.kind() == v1::TASK_KIND_NO_TASK) continue;
      if (header.kind() == v1::TASK_KIND_SHUTDOWN) {
        spdlog::info("server finished training; {} tasks done", tasks_done);
        return tasks_done;
      }
      const bool fit = header.kind() == v1::TASK_KIND_FIT;
      int64_t round = header.round();
      spdlog::info("round {}: {} task {}", round, fit ? "fit" : "evaluate", header.task_id());
      heartbeat.set_state(fit ? "training" : "evaluating");
      fl::LocalClient client(reply.client_id(), set, data, state, *worker, bn_mode, no_faults);
      v1::ResultHeader result;
      result.set_session_id(reply.session_id());
      result.set_task_id(header.task_id());
      result.set_kind(header.kind());
      result.set_model_version(header.model_version());
      std::optional<Blob> blob;
      try {
        if (fit) {
          fl::FitIns ins;
          ins.weights = task.groups[kWeightsGroup];
          ins.config = from_proto(header.config());
          if (auto it = task.groups.find(kControlGroup); it != task.groups.end()) ins.control = it->second;
          fl::FitResult r = client.fit(ins);
          if (!o.fault.empty()) apply_fault(o.fault, r, &round);
          if (o.fault == "slow") {
            spdlog::warn("TEST FAULT slow: not submitting round {}", round);
            std::this_thread::sleep_for(std::chrono::hours(1));
          }
          WeightGroups groups{{kWeightsGroup, r.weights}};
          if (r.control_delta) groups[kControlGroup] = *r.control_delta;
          blob = encode(groups);
          to_proto(*blob, result.mutable_blob());
          result.set_num_examples(r.num_examples);
          result.mutable_metrics()->insert(r.metrics.begin(), r.metrics.end());
        } else {
          fl::EvaluateIns ins{task.groups[kWeightsGroup], from_proto(header.config())};
          fl::EvaluateResult r = client.evaluate(ins);
          result.set_num_examples(r.num_examples);
          result.set_loss(r.loss);
          result.mutable_metrics()->insert(r.metrics.begin(), r.metrics.end());
        }
      } catch (const std::exception& e) {  // the task handler reports, the client lives on
        spdlog::error("round {}: task failed: {}", round, e.what());
        result.set_error(e.what());
        blob.reset();
      }
      result.set_round(round);
      heartbeat.set_state("idle");
      std::string reason;
      s = submit(*stub, result, blob ? &*blob : nullptr, &reason);
      if (s.ok()) {
        ++tasks_done;
        spdlog::info("round {}: {} result accepted", header.round(), fit ? "fit" : "evaluate");
      } else if (s.code == Code::kNotFound || s.code == Code::kUnavailable) {
        spdlog::warn("round {}: submit failed: {}", header.round(), s.to_string());
        reregister_now = s.code == Code::kNotFound;
        break;
      } else {
        spdlog::warn("round {}: result rejected: {}", header.round(), s.to_string());
      }
    }
    if (!reregister_now) {
      FEDSIGN_CHECK(Clock::now() - last_contact < give_up,
                    "giving up: server {} unreachable for {} s", o.server, o.give_up_s);
      backoff.sleep();
    }
  }
}

}  // namespace fedsign::net
