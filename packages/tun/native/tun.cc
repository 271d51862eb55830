// Placeholder: replaced by the TUN addon implementation.
#include <napi.h>
static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
NODE_API_MODULE(wirespan_tun, Init)
