#include "fedsign/net/secagg_wire.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "fedsign/fl/privacy/shamir.h"

namespace fedsign::net {

namespace privacy = fl::privacy;

namespace {
// An AES-GCM ciphertext of two Shamir shares is a few hundred bytes.
constexpr std::size_t kMaxCiphertext = 4096;

std::string bytes_of(const privacy::Bytes32& b) { return {b.begin(), b.end()}; }

Status bytes32(const std::string& s, const char* what, privacy::Bytes32* out) {
  if (s.size() != out->size()) {
    return {Code::kInvalidArgument, fmt::format("{}: {} bytes, expected 32", what, s.size())};
  }
  std::copy(s.begin(), s.end(), out->begin());
  return Status::Ok();
}

void add_shares(const std::map<privacy::ClientId, privacy::ShamirShare>& shares,
                google::protobuf::RepeatedPtrField<v1::SecAggShamirShare>* out) {
  for (const auto& [owner, share] : shares) {
    v1::SecAggShamirShare* s = out->Add();
    s->set_owner(owner);
    s->set_x(share.x);
    for (uint64_t y : share.y) s->add_y(y);
  }
}

Status read_shares(const google::protobuf::RepeatedPtrField<v1::SecAggShamirShare>& in,
                   std::map<privacy::ClientId, privacy::ShamirShare>* out) {
  for (const auto& s : in) {
    privacy::ShamirShare share;
    if (s.y_size() != static_cast<int>(share.y.size()) || s.x() == 0 ||
        s.x() >= privacy::kShamirPrime) {
      return {Code::kInvalidArgument, "malformed Shamir share"};
    }
    share.x = s.x();
    for (int i = 0; i < s.y_size(); ++i) {
      if (s.y(i) >= privacy::kShamirPrime) return {Code::kInvalidArgument, "malformed Shamir share"};
      share.y[static_cast<std::size_t>(i)] = s.y(i);
    }
    if (!out->emplace(s.owner(), share).second) {
      return {Code::kInvalidArgument, fmt::format("two shares of client {}", s.owner())};
    }
  }
  return Status::Ok();
}
}  // namespace

void to_proto(const privacy::AdvertisedKeys& keys, v1::SecAggPublicKeys* out) {
  out->set_client_id(keys.id);
  out->set_cipher_public(bytes_of(keys.cipher_public));
  out->set_mask_public(bytes_of(keys.mask_public));
}

Status from_proto(const v1::SecAggPublicKeys& keys, privacy::AdvertisedKeys* out) {
  out->id = keys.client_id();
  if (Status s = bytes32(keys.cipher_public(), "cipher public key", &out->cipher_public); !s.ok()) {
    return s;
  }
  return bytes32(keys.mask_public(), "mask public key", &out->mask_public);
}

void to_proto(const privacy::EncryptedShares& shares, v1::SecAggCipher* out) {
  out->set_from(shares.from);
  out->set_to(shares.to);
  out->set_ciphertext(std::string(shares.ciphertext.begin(), shares.ciphertext.end()));
}

Status from_proto(const v1::SecAggCipher& cipher, privacy::EncryptedShares* out) {
  if (cipher.ciphertext().size() > kMaxCiphertext) {
    return {Code::kInvalidArgument, fmt::format("key share of {} bytes (at most {})",
                                                cipher.ciphertext().size(), kMaxCiphertext)};
  }
  out->from = cipher.from();
  out->to = cipher.to();
  out->ciphertext.assign(cipher.ciphertext().begin(), cipher.ciphertext().end());
  return Status::Ok();
}

void to_proto(const privacy::UnmaskingShares& shares, v1::SecAggRequest* out) {
  add_shares(shares.self_seed_shares, out->mutable_self_seed_shares());
  add_shares(shares.mask_key_shares, out->mutable_mask_key_shares());
}

Status from_proto(const v1::SecAggRequest& request, privacy::ClientId client,
                  privacy::UnmaskingShares* out) {
  out->id = client;
  if (Status s = read_shares(request.self_seed_shares(), &out->self_seed_shares); !s.ok()) return s;
  return read_shares(request.mask_key_shares(), &out->mask_key_shares);
}

}  // namespace fedsign::net
