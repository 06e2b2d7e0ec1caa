#include "fedsign/net/service.h"

#include <spdlog/spdlog.h>

#include <cmath>

#include "fedsign/net/grpc_status.h"
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

struct SemaphoreGuard {
  explicit SemaphoreGuard(std::counting_semaphore<64>& s) : s_(s) { s_.acquire(); }
  ~SemaphoreGuard() { s_.release(); }
  std::counting_semaphore<64>& s_;
};
}  // namespace

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
  const std::string identity = options_.client_certificates ? certificate_name(context) : "";
  if (options_.client_certificates && identity.empty()) {
    return to_grpc({Code::kUnauthenticated, "a client certificate is required"});
  }
  std::string session;
  fl::ClientId id = 0;
  Status s = coordinator_.register_client(request->name(), request->token(), identity,
                                          request->num_train_examples(),
                                          request->num_test_examples(), &session, &id);
  if (s.ok() && options_.partitions) {
    s = options_.partitions->admit(request->name(), request->partition(),
                                   request->partition_index());
  }
  if (!s.ok()) {
    spdlog::warn("refused client '{}' from {}: {}", request->name(), context->peer(), s.to_string());
    return to_grpc(s);
  }
  spdlog::info("client '{}' registered as {} ({} train / {} test images) from {}", request->name(),
               id, request->num_train_examples(), request->num_test_examples(), context->peer());
  reply->set_session_id(session);
  reply->set_client_id(id);
  reply->set_model(options_.model);
  reply->set_input_size(options_.input_size);
  reply->set_num_classes(options_.num_classes);
  reply->set_heartbeat_ms(static_cast<uint32_t>(options_.heartbeat.count()));
  reply->set_max_chunk_bytes(kMaxChunkBytes);
  return grpc::Status::OK;
}

grpc::Status FederationService::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                                          v1::HeartbeatReply* reply) {
  int64_t round = 0;
  Status s = coordinator_.heartbeat(request->session_id(), request->state(), &round);
  reply->set_round(round);
  return to_grpc(s);
}

grpc::Status FederationService::GetTask(grpc::ServerContext* context,
                                        const v1::GetTaskRequest* request,
                                        grpc::ServerWriter<v1::TaskMessage>* writer) {
  const auto wait = std::min(options_.max_poll, std::chrono::milliseconds(request->wait_ms()));
  std::shared_ptr<Task> task;
  bool shutdown = false;
  Status s = coordinator_.next_task(request->session_id(), wait, &task, &shutdown);
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
  to_proto(task->config, header->mutable_config());
  to_proto(*task->blob, header->mutable_blob());
  SemaphoreGuard guard(downloads_);
  int64_t sent = static_cast<int64_t>(message.ByteSizeLong());
  bool ok = writer->Write(message);
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
                                      const std::shared_ptr<Task>& task) {
  const int64_t limit = options_.max_update_bytes > 0
                            ? options_.max_update_bytes
                            : 2 * static_cast<int64_t>(task->blob->bytes.size()) + (1 << 20);
  if (static_cast<int64_t>(header.blob().total_bytes()) > limit) {
    return {Code::kResourceExhausted,
            fmt::format("update of {} bytes exceeds the limit of {}", header.blob().total_bytes(), limit)};
  }
  std::vector<TensorSpec> specs;
  if (Status s = from_proto(header.blob(), &specs); !s.ok()) return s;
  SemaphoreGuard guard(uploads_);
  std::string bytes;
  v1::ResultMessage message;
  while (reader->Read(&message)) {
    if (message.payload_case() != v1::ResultMessage::kChunk) {
      return {Code::kInvalidArgument, "expected a chunk"};
    }
    coordinator_.bytes_received += static_cast<int64_t>(message.chunk().size());
    if (Status s = append_chunk(&bytes, message.chunk(), header.blob().total_bytes()); !s.ok()) return s;
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
  fl::FitResult result;
  result.client_id = task->client;
  result.num_examples = header.num_examples();
  for (const auto& [key, value] : header.metrics()) result.metrics[key] = value;
  for (auto& [group, w] : groups) {
    if (group == kWeightsGroup) result.weights = std::move(w);
    else if (group == kControlGroup) result.control_delta = std::move(w);
    else return {Code::kInvalidArgument, fmt::format("unknown weight group '{}'", group)};
  }
  if (Status s = validate_fit_update(*task->layout, *task->control_layout, result); !s.ok()) return s;
  task->num_examples = result.num_examples;
  task->metrics = result.metrics;
  return strategy_.fold(*task, std::move(result));
}

grpc::Status FederationService::SubmitResult(grpc::ServerContext* context,
                                             grpc::ServerReader<v1::ResultMessage>* reader,
                                             v1::SubmitReply* reply) {
  v1::ResultMessage first;
  if (!reader->Read(&first) || first.payload_case() != v1::ResultMessage::kHeader) {
    return to_grpc({Code::kInvalidArgument, "a result starts with its header"});
  }
  const v1::ResultHeader& header = first.header();
  coordinator_.bytes_received += static_cast<int64_t>(first.ByteSizeLong());
  const TaskKind kind = header.kind() == v1::TASK_KIND_EVALUATE ? TaskKind::kEvaluate : TaskKind::kFit;
  std::shared_ptr<Task> task;
  Status s = coordinator_.claim(header.session_id(), header.task_id(), kind, header.round(),
                                header.model_version(), &task);
  if (s.code == Code::kNotFound || s.code == Code::kPermissionDenied) return to_grpc(s);
  const std::string client = task ? coordinator_.name_of(task->client) : context->peer();
  if (s.ok() && !header.error().empty()) {
    coordinator_.fail(task, "client error: " + header.error());
    reply->set_accepted(false);
    reply->set_reason(header.error());
    return grpc::Status::OK;
  }
  if (s.ok()) {
    if (kind == TaskKind::kFit) {
      s = receive_fit(reader, header, task);
    } else if (!std::isfinite(header.loss()) || header.num_examples() < 0) {
      s = {Code::kInvalidArgument, "evaluation loss not finite or negative example count"};
    } else {
      task->num_examples = header.num_examples();
      task->loss = header.loss();
      for (const auto& [key, value] : header.metrics()) task->metrics[key] = value;
    }
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
