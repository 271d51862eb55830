// WireGuard's transport AEAD, ChaCha20-Poly1305 (RFC 8439 §2.8) with the 96-bit nonce of the
// whitepaper §5.4.6 (4 zero bytes, then the 64-bit counter little-endian), through the OpenSSL
// that Node itself links: its libcrypto symbols are exported by the node binary, so the addon
// needs no library of its own.
//
// Why here and not node:crypto: node:crypto's only interface is a Cipheriv object per nonce,
// whose construction costs more than sealing a 1420-byte packet (bench/RESULTS.md). Here one
// EVP_CIPHER_CTX per direction is set up once and only re-keyed per packet, and the result is
// written straight into the caller's buffer (in place allowed).
//
//   aeadSeal(key, counter: bigint, plaintext, aad | null, out, outOffset) -> bytes written
//   aeadOpen(key, counter: bigint, ciphertext, aad | null, out, outOffset) -> length, or -1
//
// Bad arguments (a programming error, not network input) throw TypeError.
#include <napi.h>

#include <openssl/evp.h>
#include <string.h>

#include <cstdint>

namespace {

constexpr size_t kKeyLen = 32;
constexpr size_t kTagLen = 16;
constexpr size_t kNonceLen = 12;

// One context per direction and thread (the addon may be loaded by worker threads too),
// initialised with the cipher once; per packet only key and nonce change.
EVP_CIPHER_CTX* Context(int enc) {
  thread_local EVP_CIPHER_CTX* ctx[2] = {nullptr, nullptr};
  EVP_CIPHER_CTX*& c = ctx[enc];
  if (c == nullptr) {
    c = EVP_CIPHER_CTX_new();
    if (c != nullptr &&
        EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr, enc) != 1) {
      EVP_CIPHER_CTX_free(c);
      c = nullptr;
    }
  }
  return c;
}

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;
};

bool GetBytes(napi_env env, napi_value v, Bytes* out) {
  napi_typedarray_type type;
  void* data;
  size_t length;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return false;
  }
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

napi_value Fail(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

napi_value Int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

// Shared argument decoding: key, counter, input, aad (or null/undefined), out, outOffset.
struct Args {
  Bytes key, in, aad, out;
  bool hasAad = false;
  size_t outOffset = 0;
  uint8_t nonce[kNonceLen] = {0};
};

bool Decode(napi_env env, napi_callback_info info, Args* a) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 6) {
    return false;
  }
  uint64_t counter;
  bool lossless;
  int64_t offset;
  napi_valuetype aadType;
  if (!GetBytes(env, argv[0], &a->key) || a->key.length != kKeyLen ||
      napi_get_value_bigint_uint64(env, argv[1], &counter, &lossless) != napi_ok || !lossless ||
      !GetBytes(env, argv[2], &a->in) || napi_typeof(env, argv[3], &aadType) != napi_ok ||
      !GetBytes(env, argv[4], &a->out) ||
      napi_get_value_int64(env, argv[5], &offset) != napi_ok || offset < 0) {
    return false;
  }
  if (aadType != napi_null && aadType != napi_undefined) {
    if (!GetBytes(env, argv[3], &a->aad)) return false;
    a->hasAad = true;
  }
  a->outOffset = static_cast<size_t>(offset);
  for (int i = 0; i < 8; i++) a->nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  return true;
}

// Keys the context and feeds the AAD; false on an OpenSSL failure.
bool Begin(EVP_CIPHER_CTX* ctx, int enc, const Args& a) {
  int n;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, a.key.data, a.nonce, enc) != 1) return false;
  if (a.hasAad && a.aad.length > 0 &&
      EVP_CipherUpdate(ctx, nullptr, &n, a.aad.data, static_cast<int>(a.aad.length)) != 1) {
    return false;
  }
  return true;
}

napi_value Seal(napi_env env, napi_callback_info info) {
  Args a;
  if (!Decode(env, info, &a)) {
    return Fail(env, "aeadSeal(key[32], counter: bigint, plaintext, aad|null, out, outOffset)");
  }
  size_t len = a.in.length;
  if (len > 0x7fffffff || a.outOffset > a.out.length || a.out.length - a.outOffset < len + kTagLen) {
    return Fail(env, "aeadSeal: out too small for plaintext + 16-byte tag");
  }
  EVP_CIPHER_CTX* ctx = Context(1);
  uint8_t* dst = a.out.data + a.outOffset;
  int n = 0, m = 0;
  if (ctx == nullptr || !Begin(ctx, 1, a) ||
      EVP_CipherUpdate(ctx, dst, &n, a.in.data, static_cast<int>(len)) != 1 ||
      EVP_CipherFinal_ex(ctx, dst + n, &m) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagLen, dst + len) != 1) {
    napi_throw_error(env, nullptr, "aeadSeal: OpenSSL ChaCha20-Poly1305 failed");
    return nullptr;
  }
  return Int(env, static_cast<int64_t>(len + kTagLen));
}

napi_value Open(napi_env env, napi_callback_info info) {
  Args a;
  if (!Decode(env, info, &a)) {
    return Fail(env, "aeadOpen(key[32], counter: bigint, ciphertext, aad|null, out, outOffset)");
  }
  if (a.in.length < kTagLen) return Int(env, -1);
  size_t len = a.in.length - kTagLen;
  if (len > 0x7fffffff || a.outOffset > a.out.length || a.out.length - a.outOffset < len) {
    return Fail(env, "aeadOpen: out too small for the plaintext");
  }
  EVP_CIPHER_CTX* ctx = Context(0);
  uint8_t* dst = a.out.data + a.outOffset;
  // OpenSSL takes the expected tag through a non-const pointer: hand it a copy.
  uint8_t tag[kTagLen];
  memcpy(tag, a.in.data + len, kTagLen);
  int n = 0, m = 0;
  if (ctx == nullptr || !Begin(ctx, 0, a)) {
    napi_throw_error(env, nullptr, "aeadOpen: OpenSSL ChaCha20-Poly1305 failed");
    return nullptr;
  }
  bool ok = EVP_CipherUpdate(ctx, dst, &n, a.in.data, static_cast<int>(len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagLen, tag) == 1 &&
            EVP_CipherFinal_ex(ctx, dst + n, &m) == 1;
  if (!ok) {
    // Forged or corrupted: what was decrypted must not be used (RFC 8439 §4).
    memset(dst, 0, len);
    return Int(env, -1);
  }
  return Int(env, static_cast<int64_t>(len));
}

}  // namespace

namespace wirespan {

Napi::Object InitAead(Napi::Env env, Napi::Object exports) {
  napi_value seal, open;
  napi_create_function(env, "aeadSeal", NAPI_AUTO_LENGTH, Seal, nullptr, &seal);
  napi_create_function(env, "aeadOpen", NAPI_AUTO_LENGTH, Open, nullptr, &open);
  exports.Set("aeadSeal", Napi::Value(env, seal));
  exports.Set("aeadOpen", Napi::Value(env, open));
  return exports;
}

}  // namespace wirespan
