// What the client accepts from a GetTask stream (net/client_task.h), fed by a fake stream: a
// model announced larger than the client's limit, or inconsistent with its tensor list, is
// refused on the header alone (the stream is cancelled, nothing more is read or reserved), and
// a model with non-finite values is refused after decoding.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <deque>

#include "fedsign/fl/weights.h"
#include "fedsign/net/client_task.h"
#include "fedsign/net/wire.h"

namespace fedsign::net {
namespace {

// A GetTask stream that plays back `messages`; after cancel() it delivers nothing more.
class FakeTaskStream : public grpc::ClientReaderInterface<v1::TaskMessage> {
 public:
  explicit FakeTaskStream(std::deque<v1::TaskMessage> messages) : messages_(std::move(messages)) {}
  bool Read(v1::TaskMessage* message) override {
    if (cancelled || messages_.empty()) return false;
    *message = messages_.front();
    messages_.pop_front();
    ++reads;
    return true;
  }
  bool NextMessageSize(uint32_t* size) override {
    if (cancelled || messages_.empty()) return false;
    *size = static_cast<uint32_t>(messages_.front().ByteSizeLong());
    return true;
  }
  grpc::Status Finish() override {
    return cancelled ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled") : grpc::Status::OK;
  }
  void WaitForInitialMetadata() override {}
  std::function<void()> canceller() {
    return [this] { cancelled = true; };
  }

  int reads = 0;
  bool cancelled = false;

 private:
  std::deque<v1::TaskMessage> messages_;
};

fl::Weights model(float value) {
  fl::Weights w;
  w.names = {"w"};
  w.tensors = {torch::full({1000}, value)};  // 4000 bytes
  return w;
}

// A FIT task: its header (announcing `announced` bytes, default the true size), then chunks.
std::deque<v1::TaskMessage> fit_task(const fl::Weights& weights, uint64_t announced = 0) {
  const Blob blob = encode({{kWeightsGroup, weights}});
  v1::TaskMessage first;
  v1::TaskHeader* header = first.mutable_header();
  header->set_kind(v1::TASK_KIND_FIT);
  header->set_task_id("r1-fit-c0-1");
  header->set_round(1);
  to_proto(blob, header->mutable_blob());
  if (announced > 0) header->mutable_blob()->set_total_bytes(announced);
  std::deque<v1::TaskMessage> messages{first};
  for_each_chunk(blob.bytes, [&](const std::string& chunk) {
    v1::TaskMessage m;
    m.set_chunk(chunk);
    messages.push_back(m);
    return true;
  });
  return messages;
}

TEST(ClientTasks, AModelAnnouncedBeyondTheLimitIsRefusedBeforeReading) {
  // Over --max-model-bytes.
  FakeTaskStream big(fit_task(model(0.5f)));
  ReceivedTask task;
  bool refused = false;
  Status s = receive_task(big, big.canceller(), 1000, &task, &refused);
  EXPECT_EQ(s.code, Code::kResourceExhausted) << s.to_string();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(big.cancelled) << "the stream goes on after a refused header";
  EXPECT_EQ(big.reads, 1) << "chunks read after a refused header";
  EXPECT_TRUE(task.groups.empty());

  // Within the limit, but more bytes announced than the tensor list needs.
  FakeTaskStream lying(fit_task(model(0.5f), 8000));
  s = receive_task(lying, lying.canceller(), 1 << 20, &task, &refused);
  EXPECT_EQ(s.code, Code::kInvalidArgument) << s.to_string();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(lying.cancelled);
  EXPECT_EQ(lying.reads, 1);

  // The same model within the limit is taken.
  FakeTaskStream fine(fit_task(model(0.5f)));
  ReceivedTask ok;
  s = receive_task(fine, fine.canceller(), 1 << 20, &ok, &refused);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_FALSE(refused);
  EXPECT_FALSE(fine.cancelled);
  ASSERT_TRUE(ok.groups.count(kWeightsGroup));
  EXPECT_TRUE(torch::equal(ok.groups[kWeightsGroup].tensors[0], model(0.5f).tensors[0]));
}

TEST(ClientTasks, AModelWithNonFiniteValuesIsRefused) {
  for (const float bad : {std::nanf(""), INFINITY}) {
    fl::Weights weights = model(0.5f);
    weights.tensors[0][17] = bad;
    FakeTaskStream stream(fit_task(weights));
    ReceivedTask task;
    bool refused = false;
    const Status s = receive_task(stream, stream.canceller(), 1 << 20, &task, &refused);
    EXPECT_EQ(s.code, Code::kInvalidArgument) << s.to_string();
    EXPECT_NE(s.message.find("non-finite"), std::string::npos) << s.message;
    EXPECT_TRUE(refused) << "a non-finite model is the server's fault, not the network's";
  }
}

}  // namespace
}  // namespace fedsign::net
