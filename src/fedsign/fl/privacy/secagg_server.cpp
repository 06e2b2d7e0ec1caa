// SecAggServer (secagg.h): routes shares, collects masked inputs, removes the masks.
#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/fixed_point.h"
#include "fedsign/fl/privacy/secagg.h"

namespace fedsign::fl::privacy {

SecAggServer::SecAggServer(int64_t threshold, int64_t input_length)
    : threshold_(threshold), input_length_(input_length) {
  FEDSIGN_CHECK(threshold >= 1, "secure aggregation: threshold {} < 1", threshold);
  FEDSIGN_CHECK(input_length >= 0, "secure aggregation: input length {}", input_length);
}

void SecAggServer::receive_keys(const AdvertisedKeys& keys) {
  FEDSIGN_CHECK(shared_.empty(), "secure aggregation: keys from client {} after sharing began",
                keys.id);
  FEDSIGN_CHECK(keys_.emplace(keys.id, keys).second,
                "secure aggregation: client {} advertised keys twice", keys.id);
}

std::vector<AdvertisedKeys> SecAggServer::keys() const {
  FEDSIGN_CHECK(static_cast<int64_t>(keys_.size()) >= threshold_,
                "secure aggregation: {} clients advertised keys, threshold is {}", keys_.size(),
                threshold_);
  std::vector<AdvertisedKeys> out;
  for (const auto& [id, k] : keys_) out.push_back(k);
  return out;
}

void SecAggServer::receive_shares(SharedKeys shares) {
  const ClientId u = shares.id;
  FEDSIGN_CHECK(keys_.count(u) == 1 && shared_.count(u) == 0 && masked_.empty(),
                "secure aggregation: unexpected shares from client {}", u);
  std::set<ClientId> recipients;
  for (const auto& e : shares.shares) {
    FEDSIGN_CHECK(e.from == u && e.to != u && keys_.count(e.to) == 1 && recipients.insert(e.to).second,
                  "secure aggregation: client {} sent a share from {} to {}", u, e.from, e.to);
  }
  FEDSIGN_CHECK(recipients.size() + 1 == keys_.size(),
                "secure aggregation: client {} shared with {} of {} other clients", u,
                recipients.size(), keys_.size() - 1);
  for (auto& e : shares.shares) inbox_[e.to].push_back(std::move(e));
  shared_.insert(u);
}

std::vector<EncryptedShares> SecAggServer::shares_for(ClientId client) const {
  FEDSIGN_CHECK(static_cast<int64_t>(shared_.size()) >= threshold_,
                "secure aggregation: {} clients shared keys, threshold is {}", shared_.size(),
                threshold_);
  FEDSIGN_CHECK(shared_.count(client) == 1, "secure aggregation: client {} did not share keys",
                client);
  auto it = inbox_.find(client);
  return it == inbox_.end() ? std::vector<EncryptedShares>{} : it->second;
}

void SecAggServer::receive_masked(MaskedInput input) {
  FEDSIGN_CHECK(!survivors_, "secure aggregation: masked input of client {} after the deadline",
                input.id);
  FEDSIGN_CHECK(shared_.count(input.id) == 1 && masked_.count(input.id) == 0,
                "secure aggregation: unexpected masked input from client {}", input.id);
  FEDSIGN_CHECK(static_cast<int64_t>(input.words.size()) == input_length_,
                "secure aggregation: client {} sent {} words, expected {}", input.id,
                input.words.size(), input_length_);
  if (masked_sum_.empty()) masked_sum_.assign(static_cast<std::size_t>(input_length_), 0);
  add_words(masked_sum_, input.words);
  masked_.insert(input.id);
}

std::vector<ClientId> SecAggServer::survivors() {
  if (!survivors_) {  // the first call closes the masked-input round
    std::set<ClientId> ids;
    for (ClientId id : masked_) ids.insert(id);
    survivors_ = std::move(ids);
  }
  FEDSIGN_CHECK(static_cast<int64_t>(survivors_->size()) >= threshold_,
                "secure aggregation: {} clients survived masking, threshold is {}; the sum "
                "cannot be recovered", survivors_->size(), threshold_);
  return {survivors_->begin(), survivors_->end()};
}

void SecAggServer::receive_unmasking(const UnmaskingShares& shares) {
  FEDSIGN_CHECK(survivors_ && survivors_->count(shares.id) == 1 && answered_.insert(shares.id).second,
                "secure aggregation: unexpected unmasking answer from client {}", shares.id);
  const uint64_t x = static_cast<uint64_t>(shares.id) + 1;
  for (const auto& [v, s] : shares.self_seed_shares) {
    FEDSIGN_CHECK(survivors_->count(v) == 1 && s.x == x,
                  "secure aggregation: client {} revealed a self-mask share of non-survivor {}",
                  shares.id, v);
    self_seed_shares_[v].push_back(s);
  }
  for (const auto& [v, s] : shares.mask_key_shares) {
    FEDSIGN_CHECK(survivors_->count(v) == 0 && shared_.count(v) == 1 && s.x == x,
                  "secure aggregation: client {} revealed a mask-key share of survivor {}",
                  shares.id, v);
    mask_key_shares_[v].push_back(s);
  }
}

std::vector<uint32_t> SecAggServer::finish() {
  const std::vector<ClientId> alive = survivors();
  FEDSIGN_CHECK(static_cast<int64_t>(answered_.size()) >= threshold_,
                "secure aggregation: {} clients answered the unmasking round, threshold is {}",
                answered_.size(), threshold_);
  std::vector<uint32_t> sum = masked_sum_;  // the survivors' masked inputs, added on arrival
  sum.resize(static_cast<std::size_t>(input_length_), 0);
  for (ClientId u : alive) {
    const auto& shares = self_seed_shares_[u];
    FEDSIGN_CHECK(static_cast<int64_t>(shares.size()) >= threshold_,
                  "secure aggregation: {} shares of client {}'s self mask, threshold is {}",
                  shares.size(), u, threshold_);
    add_words(sum, prg_words(shamir_reconstruct(shares), sum.size()), /*subtract=*/true);
  }
  for (ClientId v : shared_) {
    if (survivors_->count(v)) continue;
    const auto& shares = mask_key_shares_[v];
    FEDSIGN_CHECK(static_cast<int64_t>(shares.size()) >= threshold_,
                  "secure aggregation: {} shares of dropped client {}'s mask key, threshold is {}",
                  shares.size(), v, threshold_);
    const Bytes32 s_v = shamir_reconstruct(shares);
    FEDSIGN_CHECK(X25519KeyPair::from_private(s_v).public_key == keys_.at(v).mask_public,
                  "secure aggregation: reconstructed mask key of client {} does not match its "
                  "public key (bad shares)", v);
    for (ClientId u : alive) {
      const auto mask = prg_words(pairwise_seed(s_v, keys_.at(u).mask_public, v, u), sum.size());
      // u added +mask if u < v and -mask if u > v: undo it.
      add_words(sum, mask, /*subtract=*/u < v);
    }
  }
  return sum;
}

}  // namespace fedsign::fl::privacy
