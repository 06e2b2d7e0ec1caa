#include "fedsign/fl/privacy/secagg_crypto.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "fedsign/core/check.h"

namespace fedsign::fl::privacy {

namespace {

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  CipherCtx() { FEDSIGN_CHECK(ctx != nullptr, "OpenSSL: EVP_CIPHER_CTX_new failed"); }
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
};

struct PkeyCtx {
  EVP_PKEY_CTX* ctx;
  explicit PkeyCtx(EVP_PKEY_CTX* c) : ctx(c) { FEDSIGN_CHECK(ctx != nullptr, "OpenSSL: no context"); }
  ~PkeyCtx() { EVP_PKEY_CTX_free(ctx); }
  PkeyCtx(const PkeyCtx&) = delete;
  PkeyCtx& operator=(const PkeyCtx&) = delete;
};

struct Pkey {
  EVP_PKEY* key;
  explicit Pkey(EVP_PKEY* k) : key(k) {}
  ~Pkey() { EVP_PKEY_free(key); }
  Pkey(const Pkey&) = delete;
  Pkey& operator=(const Pkey&) = delete;
};

void ok(int rc, const char* what) { FEDSIGN_CHECK(rc > 0, "OpenSSL: {} failed", what); }

// Encrypts n bytes of `in` (zeros when null) with AES-256-CTR, continuing `ctx`'s counter.
void ctr_xor(EVP_CIPHER_CTX* ctx, const uint8_t* in, uint8_t* out, std::size_t n) {
  std::vector<uint8_t> zeros;
  if (in == nullptr) {
    zeros.assign(n, 0);
    in = zeros.data();
  }
  std::size_t done = 0;
  while (done < n) {  // EVP lengths are int
    const int chunk = static_cast<int>(std::min<std::size_t>(n - done, 1 << 30));
    int len = 0;
    ok(EVP_EncryptUpdate(ctx, out + done, &len, in + done, chunk), "AES-CTR");
    done += static_cast<std::size_t>(len);
  }
}

}  // namespace

struct RandomSource::Stream {
  CipherCtx cipher;
};

RandomSource::RandomSource(std::optional<uint64_t> seed) {
  if (!seed) return;
  Bytes32 raw{};
  std::memcpy(raw.data(), &*seed, sizeof(*seed));
  const Bytes32 key = hkdf_sha256(raw, "fedsign secagg seeded random");
  stream_ = std::make_unique<Stream>();
  const uint8_t iv[16] = {};
  ok(EVP_EncryptInit_ex(stream_->cipher.ctx, EVP_aes_256_ctr(), nullptr, key.data(), iv),
     "AES-CTR init");
}

RandomSource::~RandomSource() = default;
RandomSource::RandomSource(RandomSource&&) noexcept = default;
RandomSource& RandomSource::operator=(RandomSource&&) noexcept = default;

void RandomSource::fill(uint8_t* out, std::size_t n) {
  if (stream_) {
    ctr_xor(stream_->cipher.ctx, nullptr, out, n);
  } else {
    ok(RAND_bytes(out, static_cast<int>(n)), "RAND_bytes");
  }
}

Bytes32 RandomSource::bytes32() {
  Bytes32 out;
  fill(out.data(), out.size());
  return out;
}

uint64_t RandomSource::next_u64() {
  uint64_t v;
  fill(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  return v;
}

X25519KeyPair X25519KeyPair::generate(RandomSource& random) {
  return from_private(random.bytes32());  // X25519 clamps any 32 bytes into a valid scalar
}

X25519KeyPair X25519KeyPair::from_private(const Bytes32& private_key) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), 32));
  FEDSIGN_CHECK(key.key != nullptr, "OpenSSL: X25519 private key rejected");
  X25519KeyPair pair{private_key, {}};
  std::size_t len = 32;
  ok(EVP_PKEY_get_raw_public_key(key.key, pair.public_key.data(), &len), "X25519 public key");
  return pair;
}

Bytes32 x25519_agree(const Bytes32& own_private, const Bytes32& peer_public) {
  Pkey own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, own_private.data(), 32));
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), 32));
  FEDSIGN_CHECK(own.key != nullptr && peer.key != nullptr, "X25519: invalid key");
  PkeyCtx ctx(EVP_PKEY_CTX_new(own.key, nullptr));
  ok(EVP_PKEY_derive_init(ctx.ctx), "X25519 derive init");
  ok(EVP_PKEY_derive_set_peer(ctx.ctx, peer.key), "X25519 peer key");
  Bytes32 secret;
  std::size_t len = secret.size();
  // OpenSSL refuses an all-zero shared secret (a small-order peer key).
  FEDSIGN_CHECK(EVP_PKEY_derive(ctx.ctx, secret.data(), &len) > 0 && len == 32,
                "X25519: key agreement failed (invalid peer public key)");
  return secret;
}

Bytes32 hkdf_sha256(const Bytes32& key, const std::string& info) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  ok(EVP_PKEY_derive_init(ctx.ctx), "HKDF init");
  ok(EVP_PKEY_CTX_set_hkdf_md(ctx.ctx, EVP_sha256()), "HKDF digest");
  ok(EVP_PKEY_CTX_set1_hkdf_key(ctx.ctx, key.data(), static_cast<int>(key.size())), "HKDF key");
  ok(EVP_PKEY_CTX_add1_hkdf_info(ctx.ctx, reinterpret_cast<const unsigned char*>(info.data()),
                                 static_cast<int>(info.size())),
     "HKDF info");
  Bytes32 out;
  std::size_t len = out.size();
  ok(EVP_PKEY_derive(ctx.ctx, out.data(), &len), "HKDF derive");
  return out;
}

std::vector<uint32_t> prg_words(const Bytes32& seed, std::size_t count) {
  CipherCtx cipher;
  const uint8_t iv[16] = {};
  ok(EVP_EncryptInit_ex(cipher.ctx, EVP_aes_256_ctr(), nullptr, seed.data(), iv), "AES-CTR init");
  std::vector<uint32_t> words(count, 0);
  auto* bytes = reinterpret_cast<uint8_t*>(words.data());
  ctr_xor(cipher.ctx, bytes, bytes, count * sizeof(uint32_t));  // in place over zeros
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "mask words are little endian");
  return words;
}

std::vector<uint8_t> aead_encrypt(const Bytes32& key, const std::array<uint8_t, 12>& nonce,
                                  const std::vector<uint8_t>& plaintext, const std::string& aad) {
  CipherCtx c;
  ok(EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()), "GCM init");
  int len = 0;
  ok(EVP_EncryptUpdate(c.ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(aad.data()),
                       static_cast<int>(aad.size())),
     "GCM aad");
  std::vector<uint8_t> out(plaintext.size() + 16);
  ok(EVP_EncryptUpdate(c.ctx, out.data(), &len, plaintext.data(),
                       static_cast<int>(plaintext.size())),
     "GCM encrypt");
  int tail = 0;
  ok(EVP_EncryptFinal_ex(c.ctx, out.data() + len, &tail), "GCM final");
  ok(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + plaintext.size()), "GCM tag");
  return out;
}

std::vector<uint8_t> aead_decrypt(const Bytes32& key, const std::array<uint8_t, 12>& nonce,
                                  const std::vector<uint8_t>& ciphertext, const std::string& aad) {
  FEDSIGN_CHECK(ciphertext.size() >= 16, "AES-GCM: ciphertext of {} bytes has no tag",
                ciphertext.size());
  const std::size_t n = ciphertext.size() - 16;
  CipherCtx c;
  ok(EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()), "GCM init");
  int len = 0;
  ok(EVP_DecryptUpdate(c.ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(aad.data()),
                       static_cast<int>(aad.size())),
     "GCM aad");
  std::vector<uint8_t> out(n);
  ok(EVP_DecryptUpdate(c.ctx, out.data(), &len, ciphertext.data(), static_cast<int>(n)),
     "GCM decrypt");
  std::vector<uint8_t> tag(ciphertext.end() - 16, ciphertext.end());
  ok(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data()), "GCM tag");
  int tail = 0;
  FEDSIGN_CHECK(EVP_DecryptFinal_ex(c.ctx, out.data() + len, &tail) > 0,
                "AES-GCM: authentication failed (share tampered with or wrong key)");
  return out;
}

}  // namespace fedsign::fl::privacy
