// The receive classifier of the batched UDP socket (issue #11): what arrives is sorted before any
// JavaScript or cryptography runs, so a handshake flood costs a few comparisons per datagram
// instead of a MAC check, and the kernel's receive queue is drained at its own rate.
//
// Classes, in the order JavaScript sees them (wireguard-go's RoutineReceiveIncoming sorts the
// same way into its queues; message layouts from the whitepaper §5.4):
//   transport data (type 4, ≥ 32 bytes)                       — always kept
//   handshake initiation / response with a non-zero mac2      — kept first among handshakes
//   other handshake messages and cookie replies                — kept after those
//   anything else up to 256 bytes (STUN, path probes, junk)    — kept last, same limits; the
//                                                                 JS side sorts or drops it
//   anything else, larger                                      — dropped, counted
// While under load, every non-transport datagram is charged to a per-source token bucket
// (kernel ratelimiter.c: 20 packets/s, burst 5; IPv4 by address, IPv6 by /64) and a per-batch
// budget; what fails either is dropped before any MAC is checked, and counted. "Under load" is
// the depth of the queue, as wireguard-go defines it: a drain that finds more handshake-class
// datagrams queued than kLoadDepth puts the socket under load for one second.
#pragma once

#include <stdint.h>
#include <string.h>

#include <vector>

namespace wirespan {

enum class RxClass : uint8_t { kTransport, kHandshakeMac2, kHandshake, kOther };

constexpr uint32_t kTypeInitiation = 1, kTypeResponse = 2, kTypeCookie = 3, kTypeTransport = 4;
constexpr uint32_t kSizeInitiation = 148, kSizeResponse = 92, kSizeCookie = 64;
constexpr uint32_t kTransportMin = 32;
constexpr uint32_t kMacSize = 16;

inline RxClass Classify(const uint8_t* d, size_t len) {
  if (len < 4) return RxClass::kOther;
  // Little-endian u32 type whose upper three bytes are zero (whitepaper §5.4.2: "reserved").
  uint32_t type = static_cast<uint32_t>(d[0]) | (static_cast<uint32_t>(d[1]) << 8) |
                  (static_cast<uint32_t>(d[2]) << 16) | (static_cast<uint32_t>(d[3]) << 24);
  if (type == kTypeTransport) return len >= kTransportMin ? RxClass::kTransport : RxClass::kOther;
  uint32_t want = type == kTypeInitiation ? kSizeInitiation
                  : type == kTypeResponse ? kSizeResponse
                  : type == kTypeCookie   ? kSizeCookie
                                          : 0;
  if (want == 0 || len != want) return RxClass::kOther;
  if (type == kTypeCookie) return RxClass::kHandshake;
  const uint8_t* mac2 = d + len - kMacSize;
  uint8_t any = 0;
  for (uint32_t i = 0; i < kMacSize; i++) any |= mac2[i];
  return any != 0 ? RxClass::kHandshakeMac2 : RxClass::kHandshake;
}

// Per-source token buckets in a fixed open-addressed table: no allocation per packet, bounded
// memory, entries idle for more than a second are free again (the kernel collects them after 1 s).
// A source that finds no free entry shares one overflow bucket, so a flood from more sources than
// the table holds is still limited as a whole.
class SourceLimiter {
 public:
  static constexpr int64_t kPacketsPerSecond = 20;
  static constexpr int64_t kBurst = 5;
  static constexpr int64_t kCostNs = 1'000'000'000 / kPacketsPerSecond;
  static constexpr int64_t kMaxTokens = kCostNs * kBurst;
  static constexpr int64_t kIdleNs = 1'000'000'000;
  static constexpr size_t kEntries = 1 << 16;
  static constexpr size_t kProbe = 16;
  // The overflow bucket admits what 64 sources would.
  static constexpr int64_t kOverflowScale = 64;

  SourceLimiter() : table_(kEntries) {}

  // `key` is non-zero (see KeyOf). True when the packet may pass.
  bool Allow(uint64_t key, int64_t nowNs) {
    size_t h = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 48) & (kEntries - 1);
    Entry* free = nullptr;
    for (size_t i = 0; i < kProbe; i++) {
      Entry& e = table_[(h + i) & (kEntries - 1)];
      if (e.key == key) return Charge(&e, nowNs, 1);
      if (free == nullptr && (e.key == 0 || nowNs - e.lastNs > kIdleNs)) free = &e;
    }
    if (free != nullptr) {
      free->key = key;
      free->lastNs = nowNs;
      free->tokens = kMaxTokens - kCostNs;  // a new source starts full and pays (kernel)
      return true;
    }
    return Charge(&overflow_, nowNs, kOverflowScale);
  }

  // IPv4: 1 ‖ address; IPv6: the /64 with the top bit set (never equal to an IPv4 key, never 0).
  static uint64_t KeyOf(const uint8_t* rec) {
    uint64_t k = 0;
    if (rec[0] == 4) {
      for (int i = 0; i < 4; i++) k = (k << 8) | rec[4 + i];
      return k | (1ull << 32);
    }
    for (int i = 0; i < 8; i++) k = (k << 8) | rec[4 + i];
    return k | (1ull << 63);
  }

 private:
  struct Entry {
    uint64_t key = 0;
    int64_t lastNs = 0;
    int64_t tokens = 0;
  };

  static bool Charge(Entry* e, int64_t nowNs, int64_t scale) {
    if (nowNs > e->lastNs) {
      int64_t t = e->tokens + (nowNs - e->lastNs) * scale;
      e->tokens = t > kMaxTokens * scale ? kMaxTokens * scale : t;
      e->lastNs = nowNs;
    }
    if (e->tokens < kCostNs) return false;
    e->tokens -= kCostNs;
    return true;
  }

  std::vector<Entry> table_;
  Entry overflow_;
};

}  // namespace wirespan
