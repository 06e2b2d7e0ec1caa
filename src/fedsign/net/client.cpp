#include "fedsign/net/client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "fedsign/core/check.h"
#include "fedsign/core/read_file.h"
#include "fedsign/net/client_faults.h"
#include "fedsign/net/client_task.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/privacy/secagg_update.h"
#include "fedsign/fl/rng.h"
#include "fedsign/net/grpc_status.h"
#include "fedsign/net/secagg_client.h"
#include "fedsign/net/sent_updates.h"
#include "fedsign/net/tokens.h"
#include "fedsign/net/upload_codec.h"
#include "fedsign/net/validate.h"
#include "fedsign/net/wire.h"
#include "fedsign/v1/federation.grpc.pb.h"

namespace fedsign::net {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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

uint64_t device_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

bool refused(const Status& s) {
  return s.code == Code::kUnauthenticated || s.code == Code::kPermissionDenied ||
         s.code == Code::kInvalidArgument;
}

// The announced blob size must match its tensor list and stay within `max_bytes`, checked
// before a byte is reserved for it.
Status check_announced(const v1::TaskHeader& header, int64_t max_bytes) {
  const auto kind = header.kind();
  if (kind != v1::TASK_KIND_FIT && kind != v1::TASK_KIND_EVALUATE) return Status::Ok();
  std::vector<TensorSpec> specs;
  if (Status s = from_proto(header.blob(), &specs); !s.ok()) return s;
  return check_announced_size(specs, header.blob().total_bytes(), max_bytes);
}

}  // namespace

Status receive_task(grpc::ClientReaderInterface<v1::TaskMessage>& reader,
                    const std::function<void()>& cancel, int64_t max_bytes,
                    ReceivedTask* received, bool* refused, bool die_mid_fit_download) {
  *refused = false;
  v1::TaskMessage message;
  std::string bytes;
  bool have_header = false;
  Status chunk_status;
  while (reader.Read(&message)) {
    if (message.payload_case() == v1::TaskMessage::kHeader) {
      received->header = message.header();
      have_header = true;
      chunk_status = check_announced(received->header, max_bytes);
      if (!chunk_status.ok()) {
        cancel();
        break;
      }
    } else if (have_header && chunk_status.ok()) {
      chunk_status = append_chunk(&bytes, message.chunk(), received->header.blob().total_bytes());
      if (die_mid_fit_download && received->header.kind() == v1::TASK_KIND_FIT) die_mid_download();
    }
  }
  const Status finished = from_grpc(reader.Finish());
  *refused = true;
  if (!chunk_status.ok()) return chunk_status;
  *refused = false;
  if (!finished.ok()) return finished;
  if (!have_header) return {Code::kInternal, "empty task stream"};
  const auto kind = received->header.kind();
  if (kind != v1::TASK_KIND_FIT && kind != v1::TASK_KIND_EVALUATE) return Status::Ok();
  std::vector<TensorSpec> specs;
  *refused = true;
  if (Status s = from_proto(received->header.blob(), &specs); !s.ok()) return s;
  DecodeLimits limits;
  limits.max_bytes = max_bytes;
  if (Status s = decode(specs, bytes, received->header.blob().checksum(), limits, &received->groups);
      !s.ok()) {
    return s;
  }
  for (const auto& [group, weights] : received->groups) {
    if (Status s = check_finite(weights, "task " + group); !s.ok()) return s;
  }
  *refused = false;
  return Status::Ok();
}

namespace {

// One GetTask call (receive_task says what *refused means).
Status get_task(v1::Federation::Stub& stub, const std::string& session, int poll_ms,
                int64_t max_bytes, ReceivedTask* received, bool* refused,
                bool die_mid_fit_download) {
  grpc::ClientContext context;
  set_deadline(context, milliseconds(poll_ms + 120000));
  v1::GetTaskRequest request;
  request.set_session_id(session);
  request.set_wait_ms(static_cast<uint32_t>(poll_ms));
  auto reader = stub.GetTask(&context, request);
  return receive_task(*reader, [&context] { context.TryCancel(); }, max_bytes, received, refused,
                      die_mid_fit_download);
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

// A busy server (RESOURCE_EXHAUSTED, e.g. during a flood of anonymous streams) has not claimed
// the task yet: try again a few times before the deadline.
Status submit_with_retry(v1::Federation::Stub& stub, const v1::ResultHeader& header,
                         const Blob* blob, int64_t deadline_unix_ms, std::string* reason) {
  for (int attempt = 0;; ++attempt) {
    Status s = submit(stub, header, blob, reason);
    const auto now_ms = std::chrono::duration_cast<milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (s.code != Code::kResourceExhausted || attempt >= 20 || now_ms + 500 > deadline_unix_ms) {
      return s;
    }
    spdlog::info("server busy ({}), submitting again", s.message);
    std::this_thread::sleep_for(milliseconds(250 * (1 + std::min(attempt, 7))));
  }
}

// After a FIT task's submit: the client's state (SCAFFOLD c_i, FedBN tensors, top-k residual)
// advances only with an update the server may have taken, so that SCAFFOLD's server c and
// the clients' c_i agree and top-k's residual loses nothing the server never got. A refused
// update (stale round, failed check, unknown session) or a failed task puts the state back; a
// lost connection leaves it (the server may have taken the update), as does an accepted one,
// which --state-file then records. Returns whether the state moved (the update may be taken):
// the next FIT task tells whether the server's model holds it (sent_updates.h).
bool keep_state_with_the_update(const ClientOptions& o, const Status& submitted, bool had_update,
                                int64_t round, fl::ClientState& before, fl::ClientState& state,
                                const fl::StateOwner& owner) {
  if (!had_update || (!submitted.ok() && !may_have_taken_effect(submitted))) {
    if (!before.empty() || !state.empty()) {
      spdlog::info("round {}: the update was not taken, the client state stays as before it", round);
    }
    state = std::move(before);
    return false;
  }
  if (!o.state_file.empty() && !owner.run_id.empty() && !state.empty()) {
    fl::save_client_state_file(o.state_file, state, owner);
  }
  return true;
}

// Before a FIT task: the server says which of this client's updates its model holds; if not
// every one sent (sent_updates.h), the state goes back to before the earliest it lacks, and so
// does --state-file.
void settle_sent_updates(const ClientOptions& o, const v1::TaskHeader& header, SentUpdates& sent,
                         fl::ClientState& state, const fl::StateOwner& owner) {
  std::optional<int64_t> last_taken;
  if (header.has_client_last_taken_round()) last_taken = header.client_last_taken_round();
  const int64_t lost = sent.settle(last_taken, header.round(), state);
  if (lost == 0) return;
  spdlog::warn("round {}: the server's model holds this client's updates up to round {}, not "
               "that of round {}: the client state goes back to before that update",
               header.round(), *last_taken, lost);
  if (o.state_file.empty() || owner.run_id.empty()) return;
  if (state.empty()) {
    std::filesystem::remove(o.state_file);
  } else {
    fl::save_client_state_file(o.state_file, state, owner);
  }
}

// This process's state belongs to the run it was trained in (`state_run`): a server that started
// a new run gets a client with zero state; a restarted client process takes up its --state-file
// when that file is for this run and client id. A server without run ids (an empty id) gets
// the in-memory state only.
void adopt_run_state(const ClientOptions& o, const v1::RegisterReply& reply, fl::ClientState& state,
                     std::string& state_run) {
  if (reply.run_id() == state_run) return;
  if (!state.empty()) spdlog::info("the server runs a new federation: this client's state starts over");
  state = {};
  state_run = reply.run_id();
  if (o.state_file.empty() || state_run.empty()) return;
  if (auto saved = fl::load_client_state_file(o.state_file, {state_run, reply.client_id()})) {
    state = std::move(*saved);
    spdlog::info("client state restored from {}", o.state_file.string());
  }
}

}  // namespace

int64_t run_client(const ClientOptions& o, const data::ImageSet& set, const fl::ClientData& data) {
  FEDSIGN_CHECK(!o.name.empty(), "--name is required");
  FEDSIGN_CHECK(o.fault.empty() || known_fault(o.fault), "unknown --fault '{}'", o.fault);
  if (!o.fault.empty()) spdlog::warn("TEST FAULT '{}' enabled: this client misbehaves on purpose", o.fault);
  fl::attack::validate(o.attack);
  const auto update_attacks = fl::attack::update_attack_names();
  FEDSIGN_CHECK(std::find(update_attacks.begin(), update_attacks.end(), o.attack.kind) !=
                    update_attacks.end(),
                "--attack {} is simulation-only (fl simulate): a network client attacks with "
                "sign-flip, scale or noise", o.attack.kind);
  if (o.attack.kind != "none") spdlog::warn("ATTACK '{}' enabled: this client poisons its updates", o.attack.kind);
  if (o.fault == "flood") flood(o);
  std::string token = o.token;
  if (!token.empty()) {
    spdlog::warn("a token given on the command line is visible to every local user (ps); use "
                 "--token-file or the FEDSIGN_TOKEN environment variable");
  } else {
    token = read_secret(o.token_file, "FEDSIGN_TOKEN");
  }
  if (!o.tls.enabled()) {
    spdlog::warn("TLS is off: the token and the model travel in clear text to {} (use --tls-ca "
                 "beyond a trusted network)", o.server);
  }
  // The previous round's result, for --fault replay.
  std::optional<std::pair<v1::ResultHeader, Blob>> last_result;
  const fl::BnMode bn_mode = fl::parse_bn_mode(o.bn_mode);
  const fl::Faults no_faults;
  fl::ClientState state;
  std::string state_run;  // the federation run `state` belongs to (run_identity.h)
  SentUpdates sent;       // `state` before each recent update, for a server that lacks them
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
    request.set_token(token);
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
    const std::string run_before = state_run;
    adopt_run_state(o, reply, state, state_run);
    if (state_run != run_before) sent.clear();  // a new run: the old one's updates do not apply
    if (!worker) {
      FEDSIGN_CHECK(set.height == reply.input_size(),
                    "the server's model takes {} px images, the data was loaded at {} px (--size)",
                    reply.input_size(), set.height);
      train::TrainConfig config = o.train;
      config.model = reply.model();
      worker = std::make_unique<fl::Worker>(config, reply.input_size(), reply.num_classes());
    }
    Heartbeat heartbeat(*stub, reply.session_id(), milliseconds(std::max<uint32_t>(200, reply.heartbeat_ms())));
    if (o.fault == "steal") use_session_from_another_connection(o, reply.session_id());

    bool reregister_now = false;
    while (true) {
      ReceivedTask task;
      bool refused_task = false;
      // Phase timings of each task, logged with its result (bench/net_bench.sh averages them):
      // where a round's time goes on the client's side.
      const auto polled = Clock::now();
      s = get_task(*stub, reply.session_id(), o.poll_ms, o.max_model_bytes, &task, &refused_task,
                   o.fault == "die-download");
      const auto received = Clock::now();
      Clock::time_point computed = received;
      if (!s.ok()) {
        if (s.code == Code::kPermissionDenied) {
          FEDSIGN_FAIL("server {} refused client '{}': {}", o.server, o.name, s.to_string());
        }
        if (refused_task) {
          spdlog::error("refused a task: {}", s.to_string());  // and waits for the next one
          continue;
        }
        if (s.code == Code::kResourceExhausted) {  // server busy: the session is still good
          spdlog::info("server busy ({}), polling again", s.message);
          std::this_thread::sleep_for(milliseconds(500));
          continue;
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
      if (fit) settle_sent_updates(o, header, sent, state, {state_run, reply.client_id()});
      // The state moves with the update: if the server refuses it, the state stays as it was.
      fl::ClientState state_before_task = state;
      fl::LocalClient client(reply.client_id(), set, data, state, *worker, bn_mode, no_faults);
      v1::ResultHeader result;
      result.set_session_id(reply.session_id());
      result.set_task_id(header.task_id());
      result.set_kind(header.kind());
      result.set_model_version(header.model_version());
      std::optional<Blob> blob;
      std::optional<SecAggSession> secure;
      try {
        if (fit) {
          fl::FitIns ins;
          // A server with --download bf16 sends the model in bfloat16: train from it in float32.
          ins.weights = fl::compress::from_bf16(task.groups[kWeightsGroup]);
          ins.config = from_proto(header.config());
          if (auto it = task.groups.find(kControlGroup); it != task.groups.end()) ins.control = it->second;
          if (fl::privacy::secagg_requested(ins.config)) {
            // Keys before training, so that training time is not spent in the key steps.
            secure.emplace(*stub, reply.session_id(), header, reply.client_id(), o.poll_ms);
            if (Status k = secure->exchange_keys(); !k.ok()) {
              FEDSIGN_FAIL("secure aggregation: {}", k.to_string());
            }
            if (o.fault == "secagg-drop") {
              FEDSIGN_FAIL("TEST FAULT secagg-drop: dropping out after sharing keys");
            }
          }
          // A DP round's update is clipped (distributed mode: and noised) inside fit(); the
          // noise comes from this device's own randomness, which the server cannot recompute.
          client.set_dp_noise_seed(device_seed());
          fl::FitResult r = client.fit(ins);
          if (o.attack.kind != "none") {
            // The simulation's update attack, seeded by (seed, round, this client's id).
            r.client_id = reply.client_id();
            fl::attack::apply_attack(o.attack, round, ins.weights, r);
          }
          if (!o.fault.empty()) corrupt_update(o.fault, r, &round);
          if (o.fault == "slow") {
            spdlog::warn("TEST FAULT slow: not submitting round {}", round);
            std::this_thread::sleep_for(std::chrono::hours(1));
          }
          WeightGroups groups{{kWeightsGroup, r.weights}};
          if (secure) {
            groups = secure->masked_update(ins.weights, r);
          } else if (const auto codec = requested_upload_codec(ins.config)) {
            // The server asked for a compressed upload (upload_codec.h); top-k's error feedback
            // is part of this client's state.
            groups = encode_requested_upload(
                *codec, ins.weights, r.weights, fl::get_double(ins.config, fl::keys::kLr, 0.0),
                state.residual,
                fl::stream_seed(worker->config().seed, fl::Stream::kUploadCodec, round,
                                reply.client_id()));
          }
          if (r.control_delta && !secure) groups[kControlGroup] = *r.control_delta;
          computed = Clock::now();
          blob = encode(groups);
          to_proto(*blob, result.mutable_blob());
          result.set_num_examples(r.num_examples);
          result.mutable_metrics()->insert(r.metrics.begin(), r.metrics.end());
        } else {
          fl::EvaluateIns ins{fl::compress::from_bf16(task.groups[kWeightsGroup]),
                              from_proto(header.config())};
          fl::EvaluateResult r = client.evaluate(ins);
          computed = Clock::now();
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
      if (o.fault == "half" && fit && blob) submit_half_and_hang(*stub, result, *blob);
      const bool replays = o.fault == "replay" || o.fault == "replay-only";
      if (replays && fit && last_result) {
        v1::ResultHeader old = last_result->first;
        old.set_session_id(reply.session_id());
        const Status r = submit(*stub, old, &last_result->second, &reason);
        spdlog::warn("TEST FAULT replay: resent the round {} update -> {}", old.round(), r.to_string());
      }
      if (replays && fit && blob) last_result.emplace(result, *blob);
      if (o.fault == "replay-only" && fit && blob) {
        result.set_error("TEST FAULT replay-only: own update withheld");
        blob.reset();
      }
      const auto encoded = Clock::now();
      s = submit_with_retry(*stub, result, blob ? &*blob : nullptr, header.deadline_unix_ms(), &reason);
      const auto seconds = [](Clock::time_point a, Clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
      };
      spdlog::info("round {}: {} timings: wait+download {:.3f} s, compute {:.3f} s, encode {:.3f} s, "
                   "submit {:.3f} s", header.round(), fit ? "fit" : "evaluate",
                   seconds(polled, received), seconds(received, computed),
                   seconds(computed, encoded), seconds(encoded, Clock::now()));
      if (s.ok() && secure && blob) {
        if (Status u = secure->unmask(); !u.ok()) {
          spdlog::warn("round {}: secure aggregation unmasking failed: {}", header.round(),
                       u.to_string());
        }
      }
      if (fit && keep_state_with_the_update(o, s, blob.has_value(), round, state_before_task,
                                            state, {state_run, reply.client_id()})) {
        sent.sent(header.round(), std::move(state_before_task));
      }
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
