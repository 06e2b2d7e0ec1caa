// The cryptographic building blocks of secure aggregation (secagg.h), all from OpenSSL's
// libcrypto: X25519 key agreement, HKDF-SHA256, AES-256-CTR as the pseudo-random generator that
// expands a 32-byte seed into a mask of uint32 words, and AES-256-GCM to encrypt the Shamir
// shares that travel through the (untrusted) server. No LibTorch. Functions are thread-safe;
// a RandomSource is not.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedsign::fl::privacy {

using Bytes32 = std::array<uint8_t, 32>;

// Random bytes: OpenSSL's RAND_bytes, or, with a seed, an AES-CTR keystream derived from it so
// a simulation (and a test) repeats exactly. Seeded streams are for reproducible experiments
// only: anyone who knows the seed knows every key.
class RandomSource {
 public:
  explicit RandomSource(std::optional<uint64_t> seed = std::nullopt);
  ~RandomSource();
  RandomSource(RandomSource&&) noexcept;
  RandomSource& operator=(RandomSource&&) noexcept;
  void fill(uint8_t* out, std::size_t n);
  Bytes32 bytes32();
  uint64_t next_u64();

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;  // null: RAND_bytes
};

// An X25519 key pair (RFC 7748); the private key stays in this object.
struct X25519KeyPair {
  Bytes32 private_key;
  Bytes32 public_key;
  static X25519KeyPair generate(RandomSource& random);
  static X25519KeyPair from_private(const Bytes32& private_key);
};

// The X25519 shared secret of `own_private` and `peer_public` (the same from both sides).
// Throws fedsign::Error on an invalid (e.g. all-zero) peer key.
Bytes32 x25519_agree(const Bytes32& own_private, const Bytes32& peer_public);

// HKDF-SHA256 (RFC 5869) of `key` with an empty salt and `info`, 32 bytes out.
Bytes32 hkdf_sha256(const Bytes32& key, const std::string& info);

// `count` uint32 words of the AES-256-CTR keystream under key `seed` (IV 0), little endian.
std::vector<uint32_t> prg_words(const Bytes32& seed, std::size_t count);

// AES-256-GCM with a 12-byte nonce; the 16-byte tag is appended to the ciphertext. `aad` is
// authenticated, not encrypted. decrypt throws fedsign::Error when authentication fails.
std::vector<uint8_t> aead_encrypt(const Bytes32& key, const std::array<uint8_t, 12>& nonce,
                                  const std::vector<uint8_t>& plaintext, const std::string& aad);
std::vector<uint8_t> aead_decrypt(const Bytes32& key, const std::array<uint8_t, 12>& nonce,
                                  const std::vector<uint8_t>& ciphertext, const std::string& aad);

}  // namespace fedsign::fl::privacy
