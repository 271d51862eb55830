// The one wirespan native module: the OS packet interfaces, TUN devices (tun.cc) and batched UDP
// sockets (udp.cc), and the transport AEAD through Node's OpenSSL (aead.cc), each adding its
// functions to the exports.
#include <napi.h>

#include "abi.h"

namespace wirespan {
Napi::Object InitTun(Napi::Env env, Napi::Object exports);
Napi::Object InitUdp(Napi::Env env, Napi::Object exports);
Napi::Object InitAead(Napi::Env env, Napi::Object exports);
}  // namespace wirespan

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, wirespan::kAbiVersion));
  return wirespan::InitAead(env, wirespan::InitUdp(env, wirespan::InitTun(env, exports)));
}
}  // namespace

NODE_API_MODULE(wirespan_tun, Init)
