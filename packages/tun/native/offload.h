// TUN offloads (reference §1.6; wireguard-go tun/offload_linux.go, read, not copied): with
// IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM|TSO4|TSO6) the kernel hands over TCP "super-packets"
// of up to 64 KiB, each behind a virtio_net_hdr, and accepts them the same way. Reading, we
// split them into MTU-sized segments (and complete partial checksums); writing, we coalesce runs
// of consecutive segments of one TCP flow into one super-packet. The kernel's TCP stack then
// handles one large packet instead of ~45 small ones on both ends of a tunnel.
//
// Pure functions over byte buffers; no I/O.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace offload {

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), little-endian on TUN by default.
constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoTcpV6 = 4;
constexpr uint8_t kGsoEcn = 0x80;

struct VnetHdr {
  uint8_t flags;
  uint8_t gsoType;
  uint16_t hdrLen;
  uint16_t gsoSize;
  uint16_t csumStart;
  uint16_t csumOffset;
};

inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline VnetHdr ParseVnet(const uint8_t* p) {
  return VnetHdr{p[0], p[1], Le16(p + 2), Le16(p + 4), Le16(p + 6), Le16(p + 8)};
}

inline void WriteVnet(uint8_t* p, const VnetHdr& h) {
  p[0] = h.flags;
  p[1] = h.gsoType;
  PutLe16(p + 2, h.hdrLen);
  PutLe16(p + 4, h.gsoSize);
  PutLe16(p + 6, h.csumStart);
  PutLe16(p + 8, h.csumOffset);
}

// RFC 1071 one's-complement sum, unfolded (64-bit accumulator, 32-bit loads).
inline uint64_t Sum(const uint8_t* p, size_t n, uint64_t acc) {
  while (n >= 4) {
    acc += Be32(p);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    acc += Be16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) acc += static_cast<uint64_t>(p[0]) << 8;
  return acc;
}

inline uint16_t Fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

// Pseudo-header sum for TCP/UDP over IPv4 or IPv6 (RFC 793 §3.1, RFC 8200 §8.1).
inline uint64_t PseudoSum(const uint8_t* ip, bool v6, uint8_t proto, uint32_t l4Len) {
  uint64_t acc = v6 ? Sum(ip + 8, 32, 0) : Sum(ip + 12, 8, 0);
  return acc + proto + l4Len;
}

inline void Ipv4HeaderChecksum(uint8_t* ip) {
  size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  ip[10] = 0;
  ip[11] = 0;
  PutBe16(ip + 10, static_cast<uint16_t>(~Fold(Sum(ip, ihl, 0))));
}

// Completes a CHECKSUM_PARTIAL packet: the field at csumStart+csumOffset holds the pseudo-header
// sum; the checksum covers csumStart..end.
inline bool CompletePartial(uint8_t* pkt, size_t len, const VnetHdr& h) {
  if (static_cast<size_t>(h.csumStart) + h.csumOffset + 2 > len) return false;
  uint16_t c = static_cast<uint16_t>(~Fold(Sum(pkt + h.csumStart, len - h.csumStart, 0)));
  PutBe16(pkt + h.csumStart + h.csumOffset, c);
  return true;
}

// Splits a TSO super-packet (pkt, len) into segments of at most gsoSize payload bytes. For each
// segment, `emit(dst)` must return a buffer of at least hdrLen+gsoSize bytes (or nullptr to stop);
// `done(n)` reports its length. Returns the number of segments emitted, or -1 if malformed.
template <typename Emit, typename Done>
int SegmentTcp(const uint8_t* pkt, size_t len, const VnetHdr& h, size_t startSegment, Emit emit,
               Done done) {
  bool v6 = (pkt[0] >> 4) == 6;
  size_t l4 = h.csumStart;
  if (l4 + 20 > len || h.gsoSize == 0) return -1;
  size_t tcpLen = static_cast<size_t>(pkt[l4 + 12] >> 4) * 4;
  size_t hdr = l4 + tcpLen;
  if (tcpLen < 20 || hdr > len) return -1;
  size_t payload = len - hdr;
  size_t segs = (payload + h.gsoSize - 1) / h.gsoSize;
  if (segs == 0) segs = 1;
  uint32_t seq0 = Be32(pkt + l4 + 4);
  uint16_t id0 = v6 ? 0 : Be16(pkt + 4);
  int emitted = 0;
  for (size_t s = startSegment; s < segs; s++) {
    size_t off = s * h.gsoSize;
    size_t n = payload - off < h.gsoSize ? payload - off : h.gsoSize;
    uint8_t* out = emit(hdr + n);
    if (out == nullptr) break;
    memcpy(out, pkt, hdr);
    memcpy(out + hdr, pkt + hdr + off, n);
    size_t total = hdr + n;
    if (v6) {
      PutBe16(out + 4, static_cast<uint16_t>(total - 40));
    } else {
      PutBe16(out + 2, static_cast<uint16_t>(total));
      PutBe16(out + 4, static_cast<uint16_t>(id0 + s));
      Ipv4HeaderChecksum(out);
    }
    uint8_t* tcp = out + l4;
    PutBe32(tcp + 4, seq0 + static_cast<uint32_t>(off));
    if (s + 1 < segs) tcp[13] &= static_cast<uint8_t>(~(0x01 | 0x08));  // FIN, PSH: last only
    if (s > 0) tcp[13] &= static_cast<uint8_t>(~0x80);                  // CWR: first only
    tcp[16] = 0;
    tcp[17] = 0;
    uint64_t acc = PseudoSum(out, v6, 6, static_cast<uint32_t>(total - l4));
    PutBe16(tcp + 16, static_cast<uint16_t>(~Fold(Sum(tcp, total - l4, acc))));
    done(total);
    emitted++;
  }
  return emitted;
}

inline size_t SegmentCount(size_t len, const VnetHdr& h, const uint8_t* pkt) {
  size_t l4 = h.csumStart;
  if (l4 + 20 > len || h.gsoSize == 0) return 0;
  size_t hdr = l4 + static_cast<size_t>(pkt[l4 + 12] >> 4) * 4;
  if (hdr > len) return 0;
  size_t payload = len - hdr;
  return payload == 0 ? 1 : (payload + h.gsoSize - 1) / h.gsoSize;
}

// ---- Coalescing (write side) ----

struct TcpInfo {
  bool ok = false;
  bool v6 = false;
  size_t l4 = 0;      // offset of the TCP header
  size_t hdr = 0;     // IP + TCP header length
  size_t payload = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;
};

// A packet that may take part in coalescing: IPv4 without options or fragments, or IPv6 with
// TCP as the next header; TCP flags ACK, optionally PSH; a valid checksum (the kernel skips
// verification of what we hand over as CHECKSUM_PARTIAL, so we verify first).
inline TcpInfo InspectTcp(const uint8_t* p, size_t len) {
  TcpInfo t;
  if (len < 40) return t;
  uint8_t ver = p[0] >> 4;
  if (ver == 4) {
    if ((p[0] & 0x0f) != 5 || p[9] != 6 || Be16(p + 2) != len) return t;
    if ((Be16(p + 6) & 0x3fff) != 0) return t;  // MF or fragment offset
    t.l4 = 20;
  } else if (ver == 6) {
    if (len < 60 || p[6] != 6 || static_cast<size_t>(Be16(p + 4)) + 40 != len) return t;
    t.v6 = true;
    t.l4 = 40;
  } else {
    return t;
  }
  size_t tcpLen = static_cast<size_t>(p[t.l4 + 12] >> 4) * 4;
  if (tcpLen < 20 || t.l4 + tcpLen > len) return t;
  t.hdr = t.l4 + tcpLen;
  t.payload = len - t.hdr;
  t.flags = p[t.l4 + 13];
  if ((t.flags & ~0x08) != 0x10 || t.payload == 0) return t;  // exactly ACK (+PSH), has data
  t.seq = Be32(p + t.l4 + 4);
  uint64_t acc = PseudoSum(p, t.v6, 6, static_cast<uint32_t>(len - t.l4));
  if (Fold(Sum(p + t.l4, len - t.l4, acc)) != 0xffff) return t;
  if (!t.v6 && Fold(Sum(p, 20, 0)) != 0xffff) return t;
  t.ok = true;
  return t;
}

// Whether `b` directly continues `a`'s flow and may be appended to a run whose first packet
// has payload `segSize`: same addresses, ports, header bytes (except length, id, checksums, seq
// and PSH), sequence contiguous, and the run not ended by PSH or a short segment.
inline bool CanAppend(const uint8_t* a, const TcpInfo& ta, const uint8_t* b, const TcpInfo& tb,
                      uint32_t nextSeq, size_t segSize) {
  if (!tb.ok || tb.v6 != ta.v6 || tb.hdr != ta.hdr || tb.seq != nextSeq) return false;
  if (tb.payload > segSize) return false;
  if (ta.v6) {
    if (memcmp(a, b, 4) != 0 || a[7] != b[7] || memcmp(a + 8, b + 8, 32) != 0) return false;
  } else {
    if (a[1] != b[1] || a[6] != b[6] || a[8] != b[8] || memcmp(a + 12, b + 12, 8) != 0) {
      return false;
    }
  }
  const uint8_t* x = a + ta.l4;
  const uint8_t* y = b + tb.l4;
  // Ports, ack number, data offset, window, urgent pointer and options identical (Linux GRO).
  if (memcmp(x, y, 4) != 0 || memcmp(x + 8, y + 8, 5) != 0 || memcmp(x + 14, y + 14, 2) != 0 ||
      memcmp(x + 18, y + 18, ta.hdr - ta.l4 - 18) != 0) {
    return false;
  }
  return true;
}

}  // namespace offload
