#include "fedsign/fl/sim/upload_client.h"

#include <fmt/format.h>

#include "fedsign/fl/compress/topk.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl {

UploadClient::UploadClient(std::unique_ptr<Client> inner, ClientId id, bool attacker,
                           const attack::AttackOptions& attack,
                           const compress::CompressOptions& compress, ClientStateStore& states,
                           uint64_t seed, RoundTraffic& traffic)
    : inner_(std::move(inner)), id_(id), attacker_(attacker), attack_(attack),
      compress_(compress), states_(states), seed_(seed), traffic_(traffic) {}

FitResult UploadClient::fit(const FitIns& ins) {
  if (attacker_ && attack_.kind == "abstain") {
    // The reference for every defence: the attackers are out as if caught before they sent
    // anything, and nobody else is. A dropout, so the round averages the others.
    ++traffic_.attackers;
    throw ClientDropout(fmt::format("client {} abstains (--attack abstain)", id_));
  }
  traffic_.bytes_down += ins.weights.bytes();  // sent before the client may drop out
  FitResult result = inner_->fit(ins);
  const int64_t round = get_int(ins.config, keys::kRound, 0);
  if (attacker_) {
    attack::apply_attack(attack_, round, ins.weights, result);
    ++traffic_.attackers;
  }
  // Error feedback: the residual of this client's previous top-k upload joins this update, at
  // this round's learning rate (compress/topk.h: FeedbackRate).
  const bool feedback = compress_.codec == "topk";
  const compress::FeedbackRate rate(get_double(ins.config, keys::kLr, 0.0));
  std::optional<ClientState> state;
  if (feedback) state = states_.load(id_);
  const Weights residual = feedback && state ? rate.rejoin(state->residual) : Weights{};
  compress::Upload upload =
      compress::encode_upload(compress_, ins.weights, result.weights, residual,
                              stream_seed(seed_, Stream::kUploadCodec, round, id_));
  traffic_.bytes_up += upload.bytes;
  result.weights = std::move(upload.weights);
  if (feedback) {
    if (!state) state.emplace();
    state->residual = rate.keep(upload.residual);
    states_.save(id_, *state);
  }
  return result;
}

}  // namespace fedsign::fl
