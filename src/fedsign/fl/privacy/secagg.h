// Secure aggregation after Bonawitz et al. 2017 ("Practical Secure Aggregation for
// Privacy-Preserving Machine Learning", the semi-honest variant with a complete graph of
// pairs), as an in-process protocol of plain structs so the network layer can carry the same
// messages. The server learns the sum of the survivors' inputs and nothing else about one
// input, even when clients drop after masking, as long as at least `threshold` clients remain.
//
//   0 advertise:   each client sends two X25519 public keys (c: share encryption, s: masks).
//   1 share keys:  with everyone's keys, a client draws a self-mask seed b_u, Shamir-shares b_u
//                  and its mask private key s_u among all clients (threshold t), and sends each
//                  share AES-GCM-encrypted to its recipient (key: HKDF(X25519(c_u, c_v))).
//   2 masked input: y_u = x_u + PRG(b_u) + sum_{v>u} PRG(s_uv) - sum_{v<u} PRG(s_uv) mod 2^32,
//                  over the clients v that completed step 1, with s_uv = HKDF(X25519(s_u, s_v)).
//   3 unmasking:   the server names the survivors (those whose y arrived); each answering
//                  client reveals, per other client, the share of b (survivor) or of s
//                  (dropped), never both. The server rebuilds the dropped clients' pairwise
//                  masks and the survivors' self masks and removes them: sum_u x_u.
// Each client answers step 3 once and refuses to reveal both kinds of share of one client.
// Inputs are uint32 words (fixed_point.h encodes floats). No LibTorch. Not thread-safe; one
// object per round.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "fedsign/fl/privacy/secagg_crypto.h"
#include "fedsign/fl/privacy/shamir.h"

namespace fedsign::fl::privacy {

using ClientId = int64_t;  // = fl::ClientId (messages.h), without pulling in LibTorch

struct AdvertisedKeys {
  ClientId id = 0;
  Bytes32 cipher_public{};  // c_u^PK: encrypts the shares sent to u
  Bytes32 mask_public{};    // s_u^PK: pairwise mask agreement
};

struct EncryptedShares {  // from -> to, through the server, which cannot read it
  ClientId from = 0, to = 0;
  std::vector<uint8_t> ciphertext;  // AES-GCM of (share of s_from, share of b_from)
};

struct SharedKeys {
  ClientId id = 0;
  std::vector<EncryptedShares> shares;  // one per other client
};

struct MaskedInput {
  ClientId id = 0;
  std::vector<uint32_t> words;
};

struct UnmaskingShares {
  ClientId id = 0;
  std::map<ClientId, ShamirShare> self_seed_shares;  // shares of b_v for survivors v
  std::map<ClientId, ShamirShare> mask_key_shares;   // shares of s_v for dropped v
};

class SecAggClient {
 public:
  // `seed` makes keys and shares repeatable (simulations, tests); nullopt uses RAND_bytes.
  SecAggClient(ClientId id, int64_t threshold, std::optional<uint64_t> seed = std::nullopt);
  ClientId id() const { return id_; }

  AdvertisedKeys advertise();
  SharedKeys share_keys(const std::vector<AdvertisedKeys>& all);
  // `received`: the shares addressed to this client (the server forwards them).
  MaskedInput mask(const std::vector<EncryptedShares>& received,
                   const std::vector<uint32_t>& input);
  UnmaskingShares unmask(const std::vector<ClientId>& survivors);

 private:
  ClientId id_;
  int64_t threshold_;
  RandomSource random_;
  X25519KeyPair cipher_key_, mask_key_;
  Bytes32 self_seed_{};
  std::map<ClientId, AdvertisedKeys> keys_;            // step 1's roster
  // Step 2: v -> (share of s_v, share of b_v) held by this client, its own included.
  std::map<ClientId, std::pair<ShamirShare, ShamirShare>> held_;
  bool unmasked_ = false;
};

class SecAggServer {
 public:
  SecAggServer(int64_t threshold, int64_t input_length);

  void receive_keys(const AdvertisedKeys& keys);
  std::vector<AdvertisedKeys> keys() const;  // broadcast (checks >= threshold clients)
  void receive_shares(SharedKeys shares);
  // What to forward to `client`: the shares addressed to it by clients that completed step 1.
  std::vector<EncryptedShares> shares_for(ClientId client) const;
  void receive_masked(MaskedInput input);
  std::vector<ClientId> survivors();  // fixes the survivor set (checks >= threshold)
  void receive_unmasking(const UnmaskingShares& shares);
  // The sum of the survivors' inputs mod 2^32; throws fedsign::Error with fewer than
  // `threshold` survivors or unmasking answers.
  std::vector<uint32_t> finish();

  int64_t threshold() const { return threshold_; }

 private:
  int64_t threshold_, input_length_;
  std::map<ClientId, AdvertisedKeys> keys_;
  std::map<ClientId, std::vector<EncryptedShares>> inbox_;  // recipient -> shares
  std::set<ClientId> shared_;                                // completed step 1
  // Masked inputs are added up on arrival (mod 2^32): the server keeps one input's worth of
  // words however many clients report, and which clients did.
  std::set<ClientId> masked_;
  std::vector<uint32_t> masked_sum_;
  std::optional<std::set<ClientId>> survivors_;
  std::map<ClientId, std::vector<ShamirShare>> self_seed_shares_, mask_key_shares_;
  std::set<ClientId> answered_;
};

// The pairwise seed of u and v from u's mask private key and v's mask public key.
Bytes32 pairwise_seed(const Bytes32& own_private, const Bytes32& peer_public, ClientId a,
                      ClientId b);

}  // namespace fedsign::fl::privacy
