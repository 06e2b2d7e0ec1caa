// FOR TESTS ONLY: the ways a `fedsign fl client --fault KIND` misbehaves on purpose, so that the
// fault-injection suite (tests/faults/) can check the server's defenses with real processes.
// Internal header of the client (includes generated gRPC code). Kinds:
//   nan      NaN weights                      shape    a tensor of the wrong shape
//   stale    claims the previous round        slow     never submits (heartbeats go on)
//   inflate  claims 1000x its examples        huge     finite weights of 1e30
//   half     sends half its update, sleeps    replay   resends its previous round's result first
//   replay-only  like replay, but never sends an honest update: it reports its own task failed,
//            so that it trains the model on nothing (bench/net_chaos.sh compares runs by data)
//   steal    also presents its session id from a second connection (logs the answer)
//   flood    opens `kFloodStreams` unauthenticated result streams, each on its own
//            connection, sends nothing and holds them (never registers)
//   die-download  SIGKILLs itself after the first chunk of a training task's model
//   secagg-drop   in a secure-aggregation round: shares its keys, then drops out before its
//            masked update (reports the task failed), so the others' sum must be recovered
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "fedsign/fl/messages.h"
#include "fedsign/net/blob.h"
#include "fedsign/net/client.h"
#include "fedsign/v1/federation.grpc.pb.h"

namespace fedsign::net {

inline constexpr int kFloodStreams = 200;

bool known_fault(const std::string& fault);

// The channel every client call uses. `own_connection`: never share a TCP connection with
// another channel of this process (gRPC pools them by default).
std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& options, bool own_connection = false);

// Alters a trained update as `fault` says (nan, shape, stale, inflate, huge).
void corrupt_update(const std::string& fault, fl::FitResult& result, int64_t* round);

// half: sends the header and the first half of the blob, then sleeps for an hour.
[[noreturn]] void submit_half_and_hang(v1::Federation::Stub& stub, const v1::ResultHeader& header,
                                       const Blob& blob);

// steal: presents `session` from a new connection (Heartbeat and GetTask) and logs the answers
// ("TEST FAULT steal: ... -> CODE").
void use_session_from_another_connection(const ClientOptions& options, const std::string& session);

// die-download: SIGKILLs this process (as a crash or power cut mid-download would).
[[noreturn]] void die_mid_download();

// flood: never returns.
[[noreturn]] void flood(const ClientOptions& options);

}  // namespace fedsign::net
