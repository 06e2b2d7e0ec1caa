#include "fedsign/net/service.h"

#include <spdlog/spdlog.h>

#include <cmath>

#include "fedsign/fl/privacy/secagg_update.h"
#include "fedsign/net/grpc_status.h"
#include "fedsign/net/secagg_wire.h"
#include "fedsign/net/upload_codec.h"
#include "fedsign/net/validate.h"
#include "fedsign/net/wire.h"

namespace fedsign::net {

namespace {
std::string certificate_name(grpc::ServerContext* context) {
  auto auth = context->auth_context();
  if (!auth) return {};
  for (const auto& value : auth->FindPropertyValues("x509_common_name")) {
    return std::string(value.data(), value.size());
  }
  return {};
}

// A semaphore slot taken until `until` at the latest (acquired() says whether it was).
class SemaphoreSlot {
 public:
  SemaphoreSlot(std::counting_semaphore<64>& s, Clock::time_point until)
      : s_(s), acquired_(s.try_acquire_until(until)) {}
  ~SemaphoreSlot() {
    if (acquired_) s_.release();
  }
  bool acquired() const { return acquired_; }

 private:
  std::counting_semaphore<64>& s_;
  bool acquired_;
};

std::function<void()> canceller(grpc::ServerContext* context) {
  return [context] { context->TryCancel(); };
}
}  // namespace

Caller FederationService::caller(grpc::ServerContext* context, const std::string& session) const {
  return {session, options_.client_certificates ? certificate_name(context) : std::string(),
          context->peer()};
}

FederationService::FederationService(Coordinator& coordinator, DispatchingStrategy& strategy,
                                     ServiceOptions options)
    : coordinator_(coordinator), strategy_(strategy), options_(std::move(options)) {}

grpc::Status FederationService::Register(grpc::ServerContext* context,
                                         const v1::RegisterRequest* request,
                                         v1::RegisterReply* reply) {
  if (request->protocol_version() != v1::PROTOCOL_VERSION_1) {
    return to_grpc({Code::kFailedPrecondition,
                    fmt::format("protocol version {} not supported (server speaks 1)",
                                request->protocol_version())});
  }
  const Caller who = caller(context, "");
  if (options_.client_certificates && who.identity.empty()) {
    return to_grpc({Code::kUnauthenticated, "a client certificate is required"});
  }
  std::string session;
  fl::ClientId id = 0;
  Status s = coordinator_.register_client(request->name(), request->token(), who,
                                          request->num_train_examples(),
                                          request->num_test_examples(), &session, &id);
  if (s.ok() && options_.partitions) {
    s = options_.partitions->admit(request->name(), request->partition(),
                                   request->partition_index());
  }
  if (!s.ok()) {
    spdlog::warn("refused client '{}' from {}: {}", printable(request->name()),
                 printable(context->peer()), s.to_string());
    return to_grpc(s);
  }
  spdlog::info("client '{}' registered as {} ({} train / {} test images) from {}",
               printable(request->name()), id, request->num_train_examples(),
               request->num_test_examples(), printable(context->peer()));
  reply->set_session_id(session);
  reply->set_client_id(id);
  reply->set_run_id(options_.run_id);
  reply->set_model(options_.model);
  reply->set_input_size(options_.input_size);
  reply->set_num_classes(options_.num_classes);
  reply->set_heartbeat_ms(static_cast<uint32_t>(options_.heartbeat.count()));
  reply->set_max_chunk_bytes(kMaxChunkBytes);
  return grpc::Status::OK;
}

grpc::Status FederationService::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatReply* reply) {
  int64_t round = 0;
  Status s = coordinator_.heartbeat(caller(context, request->session_id()), request->state(), &round);
  reply->set_round(round);
  return to_grpc(s);
}

grpc::Status FederationService::GetTask(grpc::ServerContext* context,
                                        const v1::GetTaskRequest* request,
                                        grpc::ServerWriter<v1::TaskMessage>* writer) {
  const auto wait = std::min(options_.max_poll, std::chrono::milliseconds(request->wait_ms()));
  std::shared_ptr<Task> task;
  bool shutdown = false;
  Status s = coordinator_.next_task(caller(context, request->session_id()), wait, &task, &shutdown);
  if (!s.ok()) return to_grpc(s);
  v1::TaskMessage message;
  v1::TaskHeader* header = message.mutable_header();
  if (!task) {
    header->set_kind(shutdown ? v1::TASK_KIND_SHUTDOWN : v1::TASK_KIND_NO_TASK);
    writer->Write(message);
    return grpc::Status::OK;
  }
  header->set_kind(task->kind == TaskKind::kFit ? v1::TASK_KIND_FIT : v1::TASK_KIND_EVALUATE);
  header->set_task_id(task->id);
  header->set_round(task->round);
  header->set_model_version(task->model_version);
  header->set_deadline_unix_ms(task->deadline_unix_ms);
  if (task->last_taken_round >= 0) header->set_client_last_taken_round(task->last_taken_round);
  to_proto(task->config, header->mutable_config());
  to_proto(*task->blob, header->mutable_blob());
  // A client that stops reading would block Write (flow control) and keep its download slot:
  // the download must end by the task's deadline.
  Watchdog::Ticket ticket = watchdog_.arm(task->deadline, canceller(context));
  SemaphoreSlot slot(downloads_, task->deadline);
  int64_t sent = static_cast<int64_t>(message.ByteSizeLong());
  bool ok = slot.acquired() && writer->Write(message);
  ok = ok && for_each_chunk(task->blob->bytes, [&](const std::string& chunk) {
         if (context->IsCancelled()) return false;
         v1::TaskMessage m;
         m.set_chunk(chunk);
         sent += static_cast<int64_t>(chunk.size());
         return writer->Write(m);
       });
  coordinator_.bytes_sent += sent;
  if (!ok) {
    coordinator_.fail(task, "task transfer interrupted");
    return to_grpc({Code::kUnavailable, "task transfer interrupted"});
  }
  return grpc::Status::OK;
}

Status FederationService::receive_fit(grpc::ServerReader<v1::ResultMessage>* reader,
                                      const v1::ResultHeader& header,
                                      const std::shared_ptr<Task>& task,
                                      Watchdog::Ticket& ticket) {
  const int64_t limit = options_.max_update_bytes > 0
                            ? options_.max_update_bytes
                            : 2 * static_cast<int64_t>(task->blob->bytes.size()) + (1 << 20);
  if (static_cast<int64_t>(header.blob().total_bytes()) > limit) {
    return {Code::kResourceExhausted,
            fmt::format("update of {} bytes exceeds the limit of {}", header.blob().total_bytes(), limit)};
  }
  std::vector<TensorSpec> specs;
  if (Status s = from_proto(header.blob(), &specs); !s.ok()) return s;
  SemaphoreSlot slot(uploads_, task->upload_deadline);
  if (!slot.acquired()) {
    return {Code::kFailedPrecondition, "upload deadline passed while waiting for an upload slot"};
  }
  // The upload timeout counts from here: waiting behind a stalled upload does not eat it.
  ticket.set_deadline(coordinator_.begin_upload(task));
  std::string bytes;
  v1::ResultMessage message;
  while (reader->Read(&message)) {
    if (message.payload_case() != v1::ResultMessage::kChunk) {
      return {Code::kInvalidArgument, "expected a chunk"};
    }
    coordinator_.bytes_received += static_cast<int64_t>(message.chunk().size());
    if (Status s = append_chunk(&bytes, message.chunk(), header.blob().total_bytes()); !s.ok()) return s;
  }
  if (ticket.fired()) {
    return {Code::kFailedPrecondition,
            fmt::format("upload deadline passed after {} of {} bytes: stream cancelled",
                        bytes.size(), header.blob().total_bytes())};
  }
  if (bytes.size() != header.blob().total_bytes()) {
    return {Code::kInvalidArgument, fmt::format("update truncated: {} of {} bytes", bytes.size(),
                                                header.blob().total_bytes())};
  }
  WeightGroups groups;
  DecodeLimits limits;
  limits.max_bytes = limit;
  if (Status s = decode(specs, bytes, header.blob().checksum(), limits, &groups); !s.ok()) return s;
  bytes.clear();
  bytes.shrink_to_fit();
  if (fl::privacy::secagg_requested(task->config)) return receive_masked(std::move(groups), header, task);
  fl::FitResult result;
  result.client_id = task->client;
  result.num_examples = header.num_examples();
  for (const auto& [key, value] : header.metrics()) result.metrics[key] = value;
  if (is_compressed_upload(groups)) {
    // A compressed update: rebuilt against the global of this task, then checked like any.
    if (groups.count(kWeightsGroup)) return {Code::kInvalidArgument, "both a compressed update and plain weights"};
    if (Status s = decode_upload(*task->layout, task->config, groups, &result.weights); !s.ok()) return s;
  }
  for (auto& [group, w] : groups) {
    if (group == kWeightsGroup) result.weights = std::move(w);
    else if (group == kControlGroup) result.control_delta = std::move(w);
    else return {Code::kInvalidArgument, fmt::format("unknown weight group '{}'", printable(group))};
  }
  UpdateLimits bounds = options_.update_limits;
  bounds.max_examples = std::min(bounds.max_examples, task->declared_examples);
  double norm = 0;
  if (Status s = validate_fit_update(*task->layout, *task->control_layout, result, bounds, &norm);
      !s.ok()) {
    return s;
  }
  if (bounds.clip && norm > update_norm_bound(*task->layout, bounds)) {
    spdlog::info("clipped the update of '{}' (round {}): norm {:.4g} down to {:.4g}",
                 coordinator_.name_of(task->client), task->round, norm,
                 update_norm_bound(*task->layout, bounds));
  }
  const int64_t num_examples = result.num_examples;
  fl::Metrics metrics = result.metrics;
  if (Status s = strategy_.fold(task, std::move(result)); !s.ok()) return s;
  task->num_examples = num_examples;
  task->metrics = std::move(metrics);
  return Status::Ok();
}

Status FederationService::receive_masked(WeightGroups groups, const v1::ResultHeader& header,
                                         const std::shared_ptr<Task>& task) {
  auto round = strategy_.secagg_round(task->round);
  if (!round) return {Code::kFailedPrecondition, "no secure aggregation round is open"};
  auto it = groups.find(kMaskedGroup);
  if (groups.size() != 1 || it == groups.end() || it->second.size() != 1 ||
      it->second.tensors[0].scalar_type() != torch::kInt32 || it->second.tensors[0].dim() != 1 ||
      it->second.tensors[0].numel() != round->input_length()) {
    return {Code::kInvalidArgument,
            fmt::format("a secure aggregation round takes one int32 tensor of {} masked words "
                        "(group '{}')", round->input_length(), kMaskedGroup)};
  }
  const torch::Tensor t = it->second.tensors[0].contiguous();
  const auto* data = reinterpret_cast<const uint32_t*>(t.data_ptr<int32_t>());
  std::vector<uint32_t> words(data, data + t.numel());
  fl::Metrics metrics;
  for (const auto& [key, value] : header.metrics()) {
    if (std::isfinite(value)) metrics[key] = value;
  }
  if (Status s = strategy_.fold_masked(task, std::move(words), metrics); !s.ok()) return s;
  task->num_examples = std::clamp<int64_t>(header.num_examples(), 0, task->declared_examples);
  task->metrics = std::move(metrics);
  return Status::Ok();
}

Status FederationService::secagg_step(fl::ClientId client, const v1::SecAggRequest& request,
                                      v1::SecAggReply* reply) {
  namespace privacy = fl::privacy;
  std::shared_ptr<SecAggRound> round = strategy_.secagg_round(request.round());
  if (!round || !round->sampled(client)) {
    return {Code::kFailedPrecondition,
            fmt::format("client {} is in no open secure aggregation round {}", client,
                        request.round())};
  }
  const auto until = Clock::now() + std::min(options_.max_poll,
                                             std::chrono::milliseconds(request.wait_ms()));
  bool ready = true;
  Status s;
  switch (request.step()) {
    case v1::SECAGG_ADVERTISE: {
      privacy::AdvertisedKeys keys;
      s = from_proto(request.keys(), &keys);
      if (s.ok() && keys.id != client) s = {Code::kInvalidArgument, "keys for another client"};
      if (s.ok()) s = round->advertise(client, keys);
      break;
    }
    case v1::SECAGG_GET_KEYS: {
      std::vector<privacy::AdvertisedKeys> keys;
      s = round->keys(client, until, &keys, &ready);
      for (const auto& k : keys) to_proto(k, reply->add_keys());
      break;
    }
    case v1::SECAGG_SHARE: {
      privacy::SharedKeys shared{client, {}};
      if (request.shares_size() > static_cast<int>(kMaxSecAggClients)) {
        s = {Code::kInvalidArgument, "too many key shares"};
      }
      for (const auto& c : request.shares()) {
        if (!s.ok()) break;
        s = from_proto(c, &shared.shares.emplace_back());
      }
      if (s.ok()) s = round->share(client, std::move(shared));
      break;
    }
    case v1::SECAGG_GET_SHARES: {
      std::vector<privacy::EncryptedShares> shares;
      s = round->shares_for(client, until, &shares, &ready);
      for (const auto& e : shares) to_proto(e, reply->add_shares());
      break;
    }
    case v1::SECAGG_GET_SURVIVORS: {
      std::vector<privacy::ClientId> survivors;
      s = round->survivors(client, until, &survivors, &ready);
      for (auto id : survivors) reply->add_survivors(id);
      break;
    }
    case v1::SECAGG_UNMASK: {
      privacy::UnmaskingShares shares;
      s = from_proto(request, client, &shares);
      if (s.ok()) s = round->unmask(client, shares);
      break;
    }
    default:
      s = {Code::kInvalidArgument, "unknown secure aggregation step"};
  }
  reply->set_ready(ready);
  return s;
}

grpc::Status FederationService::SecAgg(grpc::ServerContext* context,
                                       const v1::SecAggRequest* request, v1::SecAggReply* reply) {
  fl::ClientId client = 0;
  Status s = coordinator_.identify(caller(context, request->session_id()), &client);
  if (s.ok()) s = secagg_step(client, *request, reply);
  coordinator_.bytes_received += static_cast<int64_t>(request->ByteSizeLong());
  coordinator_.bytes_sent += static_cast<int64_t>(reply->ByteSizeLong());
  if (!s.ok()) {
    spdlog::warn("secure aggregation call of '{}' refused: {}",
                 coordinator_.name_of_session(request->session_id()), s.to_string());
  }
  return to_grpc(s);
}

Status FederationService::receive_evaluate(const v1::ResultHeader& header,
                                           const std::shared_ptr<Task>& task) {
  fl::Metrics metrics;
  for (const auto& [key, value] : header.metrics()) metrics[key] = value;
  if (Status s = validate_evaluate_result(header.num_examples(), header.loss(), metrics,
                                          task->declared_examples);
      !s.ok()) {
    return s;
  }
  if (!coordinator_.commit(task)) return {Code::kFailedPrecondition, "upload deadline passed"};
  task->num_examples = header.num_examples();
  task->loss = header.loss();
  task->metrics = std::move(metrics);
  return Status::Ok();
}

grpc::Status FederationService::SubmitResult(grpc::ServerContext* context,
                                             grpc::ServerReader<v1::ResultMessage>* reader,
                                             v1::SubmitReply* reply) {
  // Until it is claimed, a stream is anonymous: it gets `header_timeout` to say who it is, and
  // only so many anonymous streams may wait at once.
  struct Pending {
    std::atomic<int>& count;
    bool counted = true;
    void done() {
      if (counted) --count;
      counted = false;
    }
    ~Pending() { done(); }
  } pending{pending_headers_};
  if (++pending_headers_ > options_.max_pending_headers) {
    return to_grpc({Code::kResourceExhausted, "too many result streams waiting for their header"});
  }
  Watchdog::Ticket ticket =
      watchdog_.arm(Clock::now() + options_.header_timeout, canceller(context));
  v1::ResultMessage first;
  const bool have_first = reader->Read(&first);
  pending.done();
  if (!have_first || first.payload_case() != v1::ResultMessage::kHeader) {
    if (ticket.fired()) {
      return to_grpc({Code::kFailedPrecondition,
                      fmt::format("no result header within {} ms", options_.header_timeout.count())});
    }
    return to_grpc({Code::kInvalidArgument, "a result starts with its header"});
  }
  const v1::ResultHeader& header = first.header();
  coordinator_.bytes_received += static_cast<int64_t>(first.ByteSizeLong());
  const TaskKind kind = header.kind() == v1::TASK_KIND_EVALUATE ? TaskKind::kEvaluate : TaskKind::kFit;
  std::shared_ptr<Task> task;
  Status s = coordinator_.claim(caller(context, header.session_id()), header.task_id(), kind,
                                header.round(), header.model_version(), &task);
  if (s.code == Code::kNotFound || s.code == Code::kPermissionDenied) return to_grpc(s);
  if (s.ok()) ticket.set_deadline(task->upload_deadline);
  std::string client = task ? coordinator_.name_of(task->client)
                            : coordinator_.name_of_session(header.session_id());
  if (client.empty()) client = context->peer();
  if (s.ok() && !header.error().empty()) {
    coordinator_.fail(task, "client error: " + printable(header.error(), 200));
    reply->set_accepted(false);
    reply->set_reason("error noted");
    return grpc::Status::OK;
  }
  if (s.ok()) {
    s = kind == TaskKind::kFit ? receive_fit(reader, header, task, ticket)
                               : receive_evaluate(header, task);
  }
  if (!s.ok()) {
    coordinator_.reject(task, client, s);
    reply->set_accepted(false);
    reply->set_reason(s.to_string());
    return to_grpc(s);
  }
  coordinator_.complete(task);
  reply->set_accepted(true);
  return grpc::Status::OK;
}

}  // namespace fedsign::net
