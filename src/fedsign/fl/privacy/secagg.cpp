#include "fedsign/fl/privacy/secagg.h"

#include <cstring>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/fixed_point.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl::privacy {

namespace {

uint64_t share_point(ClientId id) {
  FEDSIGN_CHECK(id >= 0 && static_cast<uint64_t>(id) < kShamirPrime - 1,
                "secure aggregation: client id {} out of range", id);
  return static_cast<uint64_t>(id) + 1;
}

Bytes32 share_key(const Bytes32& own_cipher_private, const Bytes32& peer_cipher_public) {
  return hkdf_sha256(x25519_agree(own_cipher_private, peer_cipher_public),
                     "fedsign secagg share encryption");
}

// Both directions of a pair use the same key; the sender's id in the nonce keeps them apart.
std::array<uint8_t, 12> share_nonce(ClientId from) {
  std::array<uint8_t, 12> nonce{};
  std::memcpy(nonce.data(), &from, sizeof(from));
  return nonce;
}

std::string share_aad(ClientId from, ClientId to) {
  return "fedsign secagg shares " + std::to_string(from) + "->" + std::to_string(to);
}

std::vector<uint8_t> serialize(const ShamirShare& s_share, const ShamirShare& b_share) {
  std::vector<uint8_t> out(2 * 8 * sizeof(uint64_t));
  std::memcpy(out.data(), s_share.y.data(), 64);
  std::memcpy(out.data() + 64, b_share.y.data(), 64);
  return out;
}

std::pair<ShamirShare, ShamirShare> deserialize(const std::vector<uint8_t>& bytes, uint64_t x) {
  FEDSIGN_CHECK(bytes.size() == 128, "secure aggregation: share payload of {} bytes", bytes.size());
  std::pair<ShamirShare, ShamirShare> out;
  out.first.x = out.second.x = x;
  std::memcpy(out.first.y.data(), bytes.data(), 64);
  std::memcpy(out.second.y.data(), bytes.data() + 64, 64);
  return out;
}

std::optional<uint64_t> client_seed(std::optional<uint64_t> seed, ClientId id) {
  if (!seed) return std::nullopt;
  return derive_seed(*seed, {static_cast<uint64_t>(id)});
}

}  // namespace

Bytes32 pairwise_seed(const Bytes32& own_private, const Bytes32& peer_public, ClientId a,
                      ClientId b) {
  return hkdf_sha256(x25519_agree(own_private, peer_public),
                     "fedsign secagg mask " + std::to_string(std::min(a, b)) + "-" +
                         std::to_string(std::max(a, b)));
}

// ---- Client

SecAggClient::SecAggClient(ClientId id, int64_t threshold, std::optional<uint64_t> seed)
    : id_(id), threshold_(threshold), random_(client_seed(seed, id)) {
  FEDSIGN_CHECK(threshold >= 1, "secure aggregation: threshold {} < 1", threshold);
  share_point(id);
  cipher_key_ = X25519KeyPair::generate(random_);
  mask_key_ = X25519KeyPair::generate(random_);
}

AdvertisedKeys SecAggClient::advertise() {
  return {id_, cipher_key_.public_key, mask_key_.public_key};
}

SharedKeys SecAggClient::share_keys(const std::vector<AdvertisedKeys>& all) {
  FEDSIGN_CHECK(static_cast<int64_t>(all.size()) >= threshold_,
                "secure aggregation: client {}: {} clients advertised keys, threshold is {}", id_,
                all.size(), threshold_);
  keys_.clear();
  for (const auto& k : all) {
    FEDSIGN_CHECK(keys_.emplace(k.id, k).second, "secure aggregation: client {} listed twice", k.id);
  }
  auto self = keys_.find(id_);
  FEDSIGN_CHECK(self != keys_.end() && self->second.mask_public == mask_key_.public_key &&
                    self->second.cipher_public == cipher_key_.public_key,
                "secure aggregation: client {}'s own keys are missing or altered", id_);
  self_seed_ = random_.bytes32();
  std::vector<uint64_t> xs;
  for (const auto& [v, k] : keys_) xs.push_back(share_point(v));
  const auto s_shares = shamir_split(mask_key_.private_key, threshold_, xs, random_);
  const auto b_shares = shamir_split(self_seed_, threshold_, xs, random_);
  SharedKeys out{id_, {}};
  std::size_t i = 0;
  for (const auto& [v, k] : keys_) {
    if (v == id_) {
      held_[id_] = {s_shares[i], b_shares[i]};
    } else {
      out.shares.push_back({id_, v,
                            aead_encrypt(share_key(cipher_key_.private_key, k.cipher_public),
                                         share_nonce(id_), serialize(s_shares[i], b_shares[i]),
                                         share_aad(id_, v))});
    }
    ++i;
  }
  return out;
}

MaskedInput SecAggClient::mask(const std::vector<EncryptedShares>& received,
                               const std::vector<uint32_t>& input) {
  FEDSIGN_CHECK(held_.count(id_) == 1, "secure aggregation: client {} masks before sharing keys", id_);
  for (const auto& e : received) {
    FEDSIGN_CHECK(e.to == id_ && e.from != id_ && keys_.count(e.from) == 1 &&
                      held_.count(e.from) == 0,
                  "secure aggregation: client {} got an unexpected share from {} to {}", id_,
                  e.from, e.to);
    const auto plain = aead_decrypt(share_key(cipher_key_.private_key, keys_[e.from].cipher_public),
                                    share_nonce(e.from), e.ciphertext, share_aad(e.from, id_));
    held_[e.from] = deserialize(plain, share_point(id_));
  }
  FEDSIGN_CHECK(static_cast<int64_t>(held_.size()) >= threshold_,
                "secure aggregation: client {}: only {} clients shared keys, threshold is {}", id_,
                held_.size(), threshold_);
  MaskedInput out{id_, input};
  add_words(out.words, prg_words(self_seed_, input.size()));
  for (const auto& [v, shares] : held_) {
    if (v == id_) continue;
    const auto mask = prg_words(pairwise_seed(mask_key_.private_key, keys_[v].mask_public, id_, v),
                                input.size());
    add_words(out.words, mask, /*subtract=*/v < id_);  // +mask towards larger ids, - smaller
  }
  return out;
}

UnmaskingShares SecAggClient::unmask(const std::vector<ClientId>& survivors) {
  FEDSIGN_CHECK(!unmasked_, "secure aggregation: client {} asked to unmask twice", id_);
  FEDSIGN_CHECK(static_cast<int64_t>(survivors.size()) >= threshold_,
                "secure aggregation: client {}: {} survivors, threshold is {}; refusing to unmask",
                id_, survivors.size(), threshold_);
  const std::set<ClientId> alive(survivors.begin(), survivors.end());
  FEDSIGN_CHECK(alive.count(id_) == 1, "secure aggregation: client {} is not among the survivors",
                id_);
  UnmaskingShares out{id_, {}, {}};
  for (ClientId v : alive) {
    FEDSIGN_CHECK(held_.count(v) == 1, "secure aggregation: survivor {} never shared keys with {}",
                  v, id_);
  }
  for (const auto& [v, shares] : held_) {
    if (alive.count(v)) {
      out.self_seed_shares[v] = shares.second;
    } else {
      out.mask_key_shares[v] = shares.first;
    }
  }
  unmasked_ = true;
  return out;
}

}  // namespace fedsign::fl::privacy
