// The contract between this addon and its JavaScript (src/addon.ts ADDON_ABI): bump the number in
// BOTH places whenever a function's arguments, a constructor's arguments, the layout of a buffer
// shared with JS (e.g. the UDP receive meta entries) or an exported name changes. The loader
// refuses a binary whose number differs — a stale build/ or prebuild with newer JS once silently
// broke UDP receive — and install.mjs rebuilds one.
#pragma once
#include <cstdint>

namespace wirespan {
constexpr uint32_t kAbiVersion = 4;
}  // namespace wirespan
