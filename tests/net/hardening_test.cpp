// Unit tests of the server's defenses that need no process: update bounds (example counts,
// update norm, clipping), evaluation results, tokens (timing-neutral checks, reload, a deleted
// file revokes), escaping of client-supplied names, announced blob sizes, the listening-address
// policy, the server's keepalive and stream limits, the status token, and the checkpoint's two
// generations.
#include <grpc/grpc.h>  // GRPC_ARG_* names
#include <gtest/gtest.h>
#include <httplib.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

#include "fedsign/core/check.h"
#include "fedsign/fl/run/server_checkpoint.h"
#include "fedsign/fl/update.h"
#include "fedsign/fl/weights.h"
#include "fedsign/net/blob.h"
#include "fedsign/net/server_setup.h"
#include "fedsign/net/status_http.h"
#include "fedsign/net/tokens.h"
#include "fedsign/net/validate.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::net {
namespace {

fl::Weights model() {
  fl::Weights w;
  w.names = {"a.weight", "a.bias", "bn.num_batches_tracked"};
  w.tensors = {torch::ones({4, 3}), torch::zeros({4}), torch::tensor(int64_t{7})};
  return w;
}

fl::FitResult update_of(const fl::Weights& global, float delta, int64_t examples = 10) {
  fl::FitResult r;
  r.weights = fl::clone(global);
  r.weights.tensors[0] += delta;
  r.num_examples = examples;
  return r;
}

TEST(UpdateBounds, HugeButFiniteWeightsAreRejected) {
  const fl::Weights global = model();  // norm sqrt(12): the automatic bound is 10 * ... >= 10
  fl::FitResult fine = update_of(global, 0.5f);
  EXPECT_TRUE(validate_fit_update(global, std::nullopt, fine).ok());
  fl::FitResult huge = update_of(global, 1e30f);
  const Status s = validate_fit_update(global, std::nullopt, huge);
  EXPECT_EQ(s.code, Code::kOutOfRange) << s.to_string();
  EXPECT_NE(s.message.find("norm"), std::string::npos);
  // An absolute bound, and none at all.
  UpdateLimits tight;
  tight.max_update_norm = 1.0;
  fl::FitResult moderate = update_of(global, 0.5f);  // norm 0.5 * sqrt(12) = 1.73
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, moderate, tight).ok());
  UpdateLimits off;
  off.max_update_norm = 0;
  fl::FitResult anything = update_of(global, 1e30f);
  EXPECT_TRUE(validate_fit_update(global, std::nullopt, anything, off).ok());
}

TEST(UpdateBounds, AKnownGlobalNormSetsTheAutomaticBoundAndNaNIsNamed) {
  // The server passes the round's global norm (computed once) instead of recomputing it per
  // upload: the bound is max(10, 10 x that norm), whatever the tensors say.
  fl::Weights global = model();
  global.tensors[0].fill_(100.0f);  // norm ~346: the computed bound would be ~3,464
  fl::FitResult moderate = update_of(global, 5.0f);  // change 5 * sqrt(12) = 17.3
  EXPECT_TRUE(validate_fit_update(global, std::nullopt, moderate).ok());
  UpdateLimits known;
  known.known_global_norm = 1.0;  // bound 10
  EXPECT_EQ(validate_fit_update(global, std::nullopt, moderate, known).code, Code::kOutOfRange);
  EXPECT_DOUBLE_EQ(update_norm_bound(global, known), 10.0);
  known.known_global_norm = fl::l2_norm(global);
  EXPECT_DOUBLE_EQ(update_norm_bound(global, known), update_norm_bound(global, UpdateLimits{}));
  // A NaN anywhere makes the norm NaN; the refusal names the tensor (not just "norm").
  fl::FitResult nan = update_of(global, 0.0f);
  nan.weights.tensors[1][2] = NAN;
  const Status s = validate_fit_update(global, std::nullopt, nan, known);
  EXPECT_EQ(s.code, Code::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message.find("'a.bias' has non-finite values"), std::string::npos) << s.to_string();
}

TEST(UpdateBounds, ClippingScalesTheChangeOntoTheBound) {
  const fl::Weights global = model();
  UpdateLimits clip;
  clip.max_update_norm = 1.0;
  clip.clip = true;
  fl::FitResult big = update_of(global, 5.0f);
  double norm = 0;
  ASSERT_TRUE(validate_fit_update(global, std::nullopt, big, clip, &norm).ok());
  EXPECT_NEAR(norm, 5.0 * std::sqrt(12.0), 1e-4);
  EXPECT_NEAR(fl::delta_norm(global, big.weights), 1.0, 1e-5);
  EXPECT_EQ(big.weights.tensors[2].item<int64_t>(), 7);  // integer buffers untouched
  // Non-finite updates are never clipped into something acceptable.
  fl::FitResult inf = update_of(global, INFINITY);
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, inf, clip).ok());
}

TEST(UpdateBounds, ExampleCountsAreCapped) {
  const fl::Weights global = model();
  UpdateLimits limits;
  limits.max_examples = 100;  // e.g. what the client declared
  fl::FitResult ok = update_of(global, 0.1f, 100);
  EXPECT_TRUE(validate_fit_update(global, std::nullopt, ok, limits).ok());
  fl::FitResult inflated = update_of(global, 0.1f, 101);
  EXPECT_EQ(validate_fit_update(global, std::nullopt, inflated, limits).code, Code::kOutOfRange);
  // The default server limit is far below the old 2^40.
  fl::FitResult absurd = update_of(global, 0.1f, int64_t{1} << 39);
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, absurd).ok());
}

TEST(EvaluateResults, AreValidatedLikeUpdates) {
  EXPECT_TRUE(validate_evaluate_result(20, 0.5, {{"accuracy", 0.9}}, 20).ok());
  EXPECT_EQ(validate_evaluate_result(21, 0.5, {}, 20).code, Code::kOutOfRange);
  EXPECT_FALSE(validate_evaluate_result(-1, 0.5, {}, 20).ok());
  EXPECT_FALSE(validate_evaluate_result(20, -0.1, {}, 20).ok());
  EXPECT_FALSE(validate_evaluate_result(20, NAN, {}, 20).ok());
  EXPECT_FALSE(validate_evaluate_result(20, 0.5, {{"accuracy", 1.5}}, 20).ok());
  EXPECT_FALSE(validate_evaluate_result(20, 0.5, {{"top5", INFINITY}}, 20).ok());
}

TEST(Tokens, UnknownNamesCostAComparisonAndGetTheSameAnswer) {
  testing::TempDir tmp;
  testing::write_text(tmp / "tokens.txt", "alice s3cret\n");
  TokenStore store(tmp / "tokens.txt");
  const int64_t before = store.comparisons();
  const Status wrong = store.authenticate("alice", "guess");
  EXPECT_EQ(store.comparisons(), before + 1);
  const Status unknown = store.authenticate("nobody", "guess");
  EXPECT_EQ(store.comparisons(), before + 2);  // no early return for an unknown name
  EXPECT_EQ(wrong.code, unknown.code);
  EXPECT_EQ(wrong.code, Code::kUnauthenticated);
}

TEST(Tokens, ReloadOnChangeAndADeletedFileRevokesEveryone) {
  testing::TempDir tmp;
  const auto file = tmp / "tokens.txt";
  testing::write_text(file, "alice s3cret\n");
  TokenStore store(file);
  ASSERT_TRUE(store.authenticate("alice", "s3cret").ok());
  // Same length, same second: the size/inode/mtime check still sees the new file.
  testing::write_text(tmp / "new.txt", "alice n3wtok\n");
  std::filesystem::rename(tmp / "new.txt", file);
  EXPECT_FALSE(store.authenticate("alice", "s3cret").ok());
  EXPECT_TRUE(store.authenticate("alice", "n3wtok").ok());
  std::filesystem::remove(file);
  EXPECT_EQ(store.still_allowed("alice").code, Code::kPermissionDenied);
  EXPECT_FALSE(store.authenticate("alice", "n3wtok").ok());
  // A broken file keeps the last good list (here: the empty one after deletion).
  testing::write_text(file, "alice\n");
  EXPECT_FALSE(store.authenticate("alice", "n3wtok").ok());
  testing::write_text(file, "alice n3wtok\n");
  EXPECT_TRUE(store.authenticate("alice", "n3wtok").ok());
}

TEST(Tokens, SecretsComeFromAFileOrTheEnvironment) {
  testing::TempDir tmp;
  testing::write_text(tmp / "t", "from-file\n");
  EXPECT_EQ(read_secret((tmp / "t").string(), "FEDSIGN_TEST_SECRET"), "from-file");
  ::setenv("FEDSIGN_TEST_SECRET", "from-env", 1);
  EXPECT_EQ(read_secret("", "FEDSIGN_TEST_SECRET"), "from-env");
  ::unsetenv("FEDSIGN_TEST_SECRET");
  EXPECT_EQ(read_secret("", "FEDSIGN_TEST_SECRET"), "");
  EXPECT_THROW(read_secret((tmp / "missing").string(), nullptr), Error);
}

TEST(Logging, ClientSuppliedNamesAreEscaped) {
  EXPECT_EQ(printable("alice"), "alice");
  EXPECT_EQ(printable("a\nINFO forged"), "a\\x0aINFO forged");
  EXPECT_EQ(printable("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(printable(std::string(100, 'x'), 8), "xxxxxxxx...");
  testing::TempDir tmp;
  testing::write_text(tmp / "tokens.txt", "alice s3cret\n");
  TokenStore store(tmp / "tokens.txt");
  const Status s = store.authenticate("evil\nname", "x");
  EXPECT_EQ(s.message.find('\n'), std::string::npos) << s.message;
}

TEST(Blob, AnnouncedSizesAreCheckedBeforeReserving) {
  std::vector<TensorSpec> specs{{"weights", "w", c10::ScalarType::Float, {1000}}};
  EXPECT_TRUE(check_announced_size(specs, 4000, 1 << 20).ok());
  EXPECT_EQ(check_announced_size(specs, uint64_t{1} << 40, 1 << 20).code, Code::kInvalidArgument);
  std::vector<TensorSpec> big{{"weights", "w", c10::ScalarType::Float, {1 << 20, 1 << 20}}};
  EXPECT_EQ(check_announced_size(big, uint64_t{4} << 40, 1 << 30).code, Code::kResourceExhausted);
  std::vector<TensorSpec> overflow{
      {"weights", "w", c10::ScalarType::Double, {int64_t{1} << 40, int64_t{1} << 40}}};
  EXPECT_EQ(check_announced_size(overflow, 0, int64_t{1} << 31).code, Code::kResourceExhausted);
}

TEST(ListenPolicy, PlaintextOnlyOnLoopbackUnlessInsecure) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1:7070"));
  EXPECT_TRUE(is_loopback_address("localhost:7070"));
  EXPECT_TRUE(is_loopback_address("[::1]:7070"));
  EXPECT_TRUE(is_loopback_address("unix:/tmp/fedsign.sock"));
  EXPECT_FALSE(is_loopback_address("0.0.0.0:7070"));
  EXPECT_FALSE(is_loopback_address("[::]:7070"));
  EXPECT_FALSE(is_loopback_address("10.1.2.3:7070"));
  EXPECT_FALSE(is_loopback_address("server.example.org:7070"));

  ServerOptions o;
  o.address = "0.0.0.0:7070";
  try {
    check_listen_security(o);
    ADD_FAILURE() << "plaintext on 0.0.0.0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TLS"), std::string::npos) << e.what();
  }
  o.insecure = true;
  EXPECT_NO_THROW(check_listen_security(o));
  o.tls.cert = "server.pem";
  o.insecure = false;
  EXPECT_NO_THROW(check_listen_security(o));
  // The plain-HTTP status endpoint stays on loopback unless allowed.
  ServerOptions s;
  s.status_address = "0.0.0.0:8080";
  EXPECT_THROW(check_listen_security(s), Error);
  s.status_remote = true;
  EXPECT_NO_THROW(check_listen_security(s));
}

// Keepalive as configured (gRPC's default would notice a vanished peer after 2 h), also on
// connections without calls in flight, and the per-connection stream limit.
TEST(ServerArgs, KeepaliveAndStreamLimitsAreTheConfiguredOnes) {
  ServerOptions o;
  o.keepalive_ms = 1234;
  o.keepalive_timeout_ms = 567;
  o.max_streams_per_connection = 3;
  std::map<std::string, int> args;
  for (const auto& [name, value] : server_channel_args(o)) {
    EXPECT_TRUE(args.emplace(name, value).second) << name << " set twice";
  }
  auto arg = [&](const char* name) {
    auto it = args.find(name);
    return it == args.end() ? -1 : it->second;
  };
  EXPECT_EQ(arg(GRPC_ARG_KEEPALIVE_TIME_MS), 1234);
  EXPECT_EQ(arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS), 567);
  EXPECT_EQ(arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS), 1);
  EXPECT_EQ(arg(GRPC_ARG_MAX_CONCURRENT_STREAMS), 3);
  // The defaults: pings every 20 s, a peer silent for 10 s more is dropped.
  const ServerOptions defaults;
  std::map<std::string, int> d;
  for (const auto& [name, value] : server_channel_args(defaults)) d[name] = value;
  EXPECT_EQ(d[GRPC_ARG_KEEPALIVE_TIME_MS], 20000);
  EXPECT_EQ(d[GRPC_ARG_KEEPALIVE_TIMEOUT_MS], 10000);
}

TEST(StatusEndpoint, AnOptionalBearerTokenGuardsStatus) {
  StatusEndpoint endpoint("127.0.0.1:0", [] { return std::string("{\"round\": 1}"); }, "t0ken");
  httplib::Client http("127.0.0.1", endpoint.port());
  auto anonymous = http.Get("/status");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto wrong = http.Get("/status", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto right = http.Get("/status", {{"Authorization", "Bearer t0ken"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(right->body, "{\"round\": 1}");
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

fl::ServerCheckpoint checkpoint_of_round(int64_t round) {
  fl::ServerCheckpoint c;
  c.round = round;
  c.strategy = "fedavg";
  c.global = model();
  c.global.tensors[0] *= static_cast<float>(round);
  return c;
}

TEST(Checkpoint, KeepsThePreviousGenerationAndFallsBackToIt) {
  testing::TempDir tmp;
  const auto file = tmp / "server.ckpt";
  fl::save_server_checkpoint(file, checkpoint_of_round(1));
  EXPECT_FALSE(std::filesystem::exists(fl::previous_checkpoint(file)));
  fl::save_server_checkpoint(file, checkpoint_of_round(2));
  ASSERT_TRUE(std::filesystem::exists(fl::previous_checkpoint(file)));
  EXPECT_EQ(fl::load_server_checkpoint(file).round, 2);

  // A torn latest file: the previous generation is used.
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  const fl::ServerCheckpoint fallback = fl::load_server_checkpoint(file);
  EXPECT_EQ(fallback.round, 1);
  EXPECT_TRUE(torch::equal(fallback.global.tensors[0], checkpoint_of_round(1).global.tensors[0]));

  // A crash between the two renames leaves only FILE.prev.
  std::filesystem::remove(file);
  EXPECT_TRUE(fl::server_checkpoint_exists(file));
  EXPECT_EQ(fl::load_server_checkpoint(file).round, 1);

  // Both bad: an error that names both files.
  testing::write_text(file, "garbage");
  testing::write_text(fl::previous_checkpoint(file), "garbage");
  try {
    fl::load_server_checkpoint(file);
    ADD_FAILURE() << "loaded garbage";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("server.ckpt:"), std::string::npos) << what;
    EXPECT_NE(what.find("server.ckpt.prev"), std::string::npos) << what;
  }
  std::filesystem::remove(file);
  std::filesystem::remove(fl::previous_checkpoint(file));
  EXPECT_FALSE(fl::server_checkpoint_exists(file));
  EXPECT_THROW(fl::load_server_checkpoint(file), Error);
}

}  // namespace
}  // namespace fedsign::net
