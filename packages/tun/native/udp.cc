// Batched UDP for the wirespan data plane: recvmmsg/sendmmsg, UDP GSO (UDP_SEGMENT) and UDP GRO
// (reference §1.6, wireguard-go conn/bind_std.go). Only the OS interface lives here; every
// protocol decision stays in TypeScript.
//
// Address records (20 bytes) shared with JS: [0] family (4 or 6), [1] 0, [2..3] port (network
// order), [4..19] address (IPv4 in [4..7]). On a dual-stack socket IPv4-mapped peers are reported
// as family 4 and mapped back when sending.
#include <napi.h>

#if defined(__linux__)
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "classify.h"
#include "poller.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace {

using wirespan::Throw;
using wirespan::ThrowType;

constexpr size_t kAddrRecord = 20;
// Linux UDP_MAX_SEGMENTS is 64 before 6.x raised it to 128; 64 is safe everywhere.
constexpr size_t kMaxSegments = 64;
// A GSO send's total payload must fit one IP datagram.
constexpr size_t kMaxGsoBytes = 65000;
constexpr size_t kMaxSendBatch = 1024;

// openUdp(family 4|6, port, host string ("" = any), v6only bool, bufferBytes[, receiveBytes])
// → [fd, port].
// Buffers are forced past rmem_max/wmem_max where CAP_NET_ADMIN allows (wireguard-go does).
Napi::Value OpenUdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString() ||
      !info[4].IsNumber()) {
    return ThrowType(env, "openUdp(family, port, host, v6only, bufferBytes)");
  }
  int family = info[0].As<Napi::Number>().Int32Value() == 4 ? AF_INET : AF_INET6;
  int port = info[1].As<Napi::Number>().Int32Value();
  std::string host = info[2].As<Napi::String>().Utf8Value();
  bool v6only = info[3].ToBoolean().Value();
  int bufBytes = info[4].As<Napi::Number>().Int32Value();
  int rcvBytes = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value()
                                                         : bufBytes;
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Throw(env, errno, "socket");
  if (rcvBytes > 0) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvBytes, sizeof rcvBytes) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvBytes, sizeof rcvBytes);
    }
  }
  if (bufBytes > 0) {
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufBytes, sizeof bufBytes) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufBytes, sizeof bufBytes);
    }
  }
  sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (!host.empty() && inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) {
      close(fd);
      return Throw(env, EINVAL, "inet_pton");
    }
    len = sizeof *sin;
  } else {
    int v = v6only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (!host.empty() && inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) {
      close(fd);
      return Throw(env, EINVAL, "inet_pton");
    }
    len = sizeof *sin6;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    int err = errno;
    close(fd);
    return Throw(env, err, "bind");
  }
  len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    int err = errno;
    close(fd);
    return Throw(env, err, "getsockname");
  }
  int bound = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                      : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fd));
  out.Set(1u, Napi::Number::New(env, bound));
  return out;
}

// setSocketMark(fd, mark): SO_MARK for wg-quick's policy routing.
Napi::Value SetSocketMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return ThrowType(env, "setSocketMark(fd, mark)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t mark = info[1].As<Napi::Number>().Uint32Value();
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
    return Throw(env, errno, "setsockopt(SO_MARK)");
  }
  return env.Undefined();
}

// Fills a sockaddr from a 20-byte record; maps IPv4 onto a dual-stack IPv6 socket.
socklen_t ToSockaddr(const uint8_t* rec, int sockFamily, sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  uint16_t portBe;
  memcpy(&portBe, rec + 2, 2);
  if (sockFamily == AF_INET) {
    if (rec[0] != 4) return 0;
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = portBe;
    memcpy(&sin->sin_addr, rec + 4, 4);
    return sizeof *sin;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = portBe;
  if (rec[0] == 4) {
    uint8_t* a = reinterpret_cast<uint8_t*>(&sin6->sin6_addr);
    a[10] = 0xff;
    a[11] = 0xff;
    memcpy(a + 12, rec + 4, 4);
  } else {
    memcpy(&sin6->sin6_addr, rec + 4, 16);
  }
  return sizeof *sin6;
}

void FromSockaddr(const sockaddr_storage* ss, uint8_t* rec) {
  memset(rec, 0, kAddrRecord);
  if (ss->ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(ss);
    rec[0] = 4;
    memcpy(rec + 2, &sin->sin_port, 2);
    memcpy(rec + 4, &sin->sin_addr, 4);
    return;
  }
  auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ss);
  memcpy(rec + 2, &sin6->sin6_port, 2);
  const uint8_t* a = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(a, kMapped, 12) == 0) {
    rec[0] = 4;
    memcpy(rec + 4, a + 12, 4);
  } else {
    rec[0] = 6;
    memcpy(rec + 4, a, 16);
  }
}

class UdpPoller : public wirespan::FdPoller<UdpPoller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    std::vector<Napi::ClassPropertyDescriptor<UdpPoller>> methods{
        InstanceMethod<&UdpPoller::Start>("start"),
        InstanceMethod<&UdpPoller::Send>("send"),
        InstanceMethod<&UdpPoller::EnableGro>("enableGro"),
        InstanceMethod<&UdpPoller::SetGso>("setGso"),
        InstanceMethod<&UdpPoller::Stats>("stats"),
        InstanceMethod<&UdpPoller::WatchWritable>("watchWritable"),
    };
    AddCommonMethods(&methods);
    return DefineClass(env, "UdpPoller", methods);
  }

  // UdpPoller(fd, family 4|6, buffer, slotSize, maxBatch, meta Int32Array(4·entries),
  //           addrs Uint8Array(20·entries), onRead(value), smallSlots) with entries =
  //           maxBatch + smallSlots. The buffer holds maxBatch slots of slotSize bytes, then
  //           smallSlots slots of 256 bytes for handshake messages. Entry k of a batch:
  //           meta[4k] byte offset in the buffer, meta[4k+1] length, meta[4k+2] GRO segment size
  //           (0 = one datagram), addrs[20k..] its source.
  explicit UdpPoller(const Napi::CallbackInfo& info) : wirespan::FdPoller<UdpPoller>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 9 || !info[0].IsNumber() || !info[1].IsNumber() ||
        !info[2].IsArrayBuffer() || !info[3].IsNumber() || !info[4].IsNumber() ||
        !info[5].IsTypedArray() || !info[6].IsTypedArray() || !info[7].IsFunction() ||
        !info[8].IsNumber()) {
      ThrowType(env, "UdpPoller(fd, family, ArrayBuffer, slotSize, maxBatch, Int32Array, "
                     "Uint8Array, onRead, smallSlots)");
      return;
    }
    int64_t smallSlots = info[8].As<Napi::Number>().Int64Value();
    int fd = info[0].As<Napi::Number>().Int32Value();
    family_ = info[1].As<Napi::Number>().Int32Value() == 4 ? AF_INET : AF_INET6;
    Napi::ArrayBuffer buffer = info[2].As<Napi::ArrayBuffer>();
    int64_t slot = info[3].As<Napi::Number>().Int64Value();
    int64_t maxBatch = info[4].As<Napi::Number>().Int64Value();
    Napi::TypedArray meta = info[5].As<Napi::TypedArray>();
    Napi::TypedArray addrs = info[6].As<Napi::TypedArray>();
    uint64_t entries = static_cast<uint64_t>(maxBatch) + static_cast<uint64_t>(smallSlots);
    if (slot <= 0 || maxBatch <= 0 || maxBatch > 1024 || smallSlots < 4 || smallSlots > 4096 ||
        static_cast<uint64_t>(slot) * static_cast<uint64_t>(maxBatch) +
                static_cast<uint64_t>(smallSlots) * kSmallSlot >
            buffer.ByteLength() ||
        meta.TypedArrayType() != napi_int32_array || meta.ElementLength() < entries * 4 ||
        addrs.TypedArrayType() != napi_uint8_array ||
        addrs.ElementLength() < entries * kAddrRecord) {
      ThrowType(env, "UdpPoller: buffers too small for slotSize x maxBatch");
      return;
    }
    if (!Open(env, fd, info[7].As<Napi::Function>(), "wirespan:udp", "UdpPoller", "")) return;
    slot_ = static_cast<size_t>(slot);
    maxBatch_ = static_cast<uint32_t>(maxBatch);
    buf_ = static_cast<uint8_t*>(buffer.Data());
    meta_ = wirespan::TypedData<int32_t>(meta);
    addrs_ = wirespan::TypedData<uint8_t>(addrs);
    bufferRef_ = Napi::Persistent(buffer);
    metaRef_ = Napi::Persistent(meta);
    addrsRef_ = Napi::Persistent(addrs);
    msgs_.resize(maxBatch_);
    iovs_.resize(maxBatch_);
    names_.resize(maxBatch_);
    cmsgs_.resize(maxBatch_ * kCmsgSpace);
    smallSlots_ = static_cast<size_t>(smallSlots);
    smallBase_ = slot_ * maxBatch_;
    small_ = buf_ + smallBase_;
    smallLen_.resize(smallSlots_);
    smallAddrs_.resize(smallSlots_ * kAddrRecord);
    mac2Order_.reserve(smallSlots_);
    plainOrder_.reserve(smallSlots_);
    otherOrder_.reserve(smallSlots_);
  }

  void OnPollEvent(int status, int events) {
    if (status < 0) return;  // transient socket errors (ICMP) are not fatal for UDP
    if (events & UV_READABLE) ReadBatch();
    // The send buffer has room again: JS sends what waited (onRead flag kFlagWritable, no data).
    if ((events & UV_WRITABLE) && !closed_) Deliver(kFlagWritable << 16);
  }

 private:
  static constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint16_t));

  Napi::Value Start(const Napi::CallbackInfo& info) {
    return Watch(info.Env(), UV_READABLE, "");
  }

  // watchWritable(on): also report writability (once per wakeup while on) — after a send found
  // the socket's buffer full (EAGAIN), like a Go write parked on the netpoller.
  Napi::Value WatchWritable(const Napi::CallbackInfo& info) {
    bool on = info.Length() > 0 && info[0].ToBoolean().Value();
    return Watch(info.Env(), UV_READABLE | (on ? UV_WRITABLE : 0), "");
  }

  // UDP GRO: the kernel hands over runs of same-size datagrams as one buffer plus the segment
  // size (Linux ≥ 5.0; wireguard-go uses it from 5.12). Returns whether it is on.
  Napi::Value EnableGro(const Napi::CallbackInfo& info) {
    int one = 1;
    bool ok = !closed_ && setsockopt(fd_, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
    return Napi::Boolean::New(info.Env(), ok);
  }

  // setGso(bool): use UDP_SEGMENT for runs of same-size datagrams.
  Napi::Value SetGso(const Napi::CallbackInfo& info) {
    gso_ = info.Length() > 0 && info[0].ToBoolean().Value();
    return info.Env().Undefined();
  }

  // send(packets: Uint8Array[], start, count, addr: Uint8Array(20)) → sent + 65536 · failed.
  // All go to one address. Same-size runs become GSO sends when enabled; the rest sendmmsg.
  // A failure (unreachable, EPERM, …) drops that datagram and goes on; a full socket buffer
  // (EAGAIN) stops: sent + failed < count, and the rest waits for writability (watchWritable).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsArray() || !info[1].IsNumber() || !info[2].IsNumber() ||
        !info[3].IsTypedArray()) {
      return ThrowType(env, "send(packets, start, count, addr)");
    }
    if (closed_) return Napi::Number::New(env, 0);
    napi_value array = info[0];
    uint32_t start = info[1].As<Napi::Number>().Uint32Value();
    uint32_t count = info[2].As<Napi::Number>().Uint32Value();
    Napi::TypedArray addrArr = info[3].As<Napi::TypedArray>();
    if (addrArr.TypedArrayType() != napi_uint8_array || addrArr.ByteLength() < kAddrRecord) {
      return ThrowType(env, "send: addr must be a 20-byte Uint8Array");
    }
    const uint8_t* rec =
        static_cast<uint8_t*>(addrArr.ArrayBuffer().Data()) + addrArr.ByteOffset();
    sockaddr_storage to;
    socklen_t toLen = ToSockaddr(rec, family_, &to);
    if (toLen == 0) {
      sendErrors_ += count;
      return Napi::Number::New(env, static_cast<double>(count) * 65536);
    }
    uint64_t errorsBefore = sendErrors_;
    sendIov_.clear();
    sendIov_.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      napi_value item;
      napi_typedarray_type type;
      size_t length;
      void* data;
      if (napi_get_element(env, array, start + i, &item) != napi_ok ||
          napi_get_typedarray_info(env, item, &type, &length, &data, nullptr, nullptr) !=
              napi_ok ||
          type != napi_uint8_array) {
        sendErrors_++;
        continue;
      }
      sendIov_.push_back({data, length});
    }
    uint32_t sent = SendIovs(&to, toLen);
    double failed = static_cast<double>(sendErrors_ - errorsBefore);
    return Napi::Number::New(env, sent + failed * 65536);
  }

  // Builds one mmsghdr per GSO run (or per datagram) and sends them with sendmmsg.
  uint32_t SendIovs(sockaddr_storage* to, socklen_t toLen) {
    size_t n = sendIov_.size();
    size_t i = 0;
    uint32_t accepted = 0;
    bool blocked = false;
    while (i < n && !blocked) {
      size_t batchStart = i;
      bool retry = false;
      sendMsgs_.clear();
      sendCmsg_.assign(kMaxSendBatch * CMSG_SPACE(sizeof(uint16_t)), 0);
      std::vector<size_t> segs;
      while (i < n && sendMsgs_.size() < kMaxSendBatch) {
        size_t seg = sendIov_[i].iov_len;
        size_t j = i + 1;
        if (gso_) {
          size_t total = seg;
          // A run: equal sizes, the last one may be shorter (the kernel's GSO rule).
          while (j < n && j - i < kMaxSegments && total + sendIov_[j].iov_len <= kMaxGsoBytes &&
                 sendIov_[j].iov_len <= seg && sendIov_[j - 1].iov_len == seg) {
            total += sendIov_[j].iov_len;
            j++;
          }
        }
        mmsghdr m;
        memset(&m, 0, sizeof m);
        m.msg_hdr.msg_name = to;
        m.msg_hdr.msg_namelen = toLen;
        m.msg_hdr.msg_iov = &sendIov_[i];
        m.msg_hdr.msg_iovlen = j - i;
        if (j - i > 1) {
          uint8_t* c = &sendCmsg_[sendMsgs_.size() * CMSG_SPACE(sizeof(uint16_t))];
          m.msg_hdr.msg_control = c;
          m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
          cmsghdr* cm = CMSG_FIRSTHDR(&m.msg_hdr);
          cm->cmsg_level = SOL_UDP;
          cm->cmsg_type = UDP_SEGMENT;
          cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          uint16_t s = static_cast<uint16_t>(seg);
          memcpy(CMSG_DATA(cm), &s, sizeof s);
        }
        sendMsgs_.push_back(m);
        segs.push_back(j - i);
        i = j;
      }
      size_t done = 0;
      bool retried = false;
      while (done < sendMsgs_.size()) {
        int r = sendmmsg(fd_, &sendMsgs_[done], sendMsgs_.size() - done, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno == EIO && gso_) {
            // No checksum offload on the route's device: GSO unusable (wireguard-go does the
            // same). What this call did not send goes again one datagram per message.
            gso_ = false;
            gsoDisabled_ = true;
            size_t first = batchStart;
            for (size_t k = 0; k < done; k++) first += segs[k];
            sendIov_.erase(sendIov_.begin(), sendIov_.begin() + first);
            n = sendIov_.size();
            i = 0;
            retry = true;
            break;
          }
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            // The socket's send buffer is full: what is left is not sent, and not an error.
            sendBlocked_++;
            blocked = true;
            break;
          }
          if (errno == ECONNREFUSED && !retried) {
            // A pending ICMP error from an earlier datagram (to any peer) is reported by the
            // next send and consumed by it: this message was not the culprit, send it again.
            retried = true;
            continue;
          }
          // This message cannot go (unreachable, buffer full, …): count it, go on with the next.
          lastSendErrno_ = errno;
          sendErrors_ += segs[done];
          done++;
          retried = false;
          continue;
        }
        retried = false;
        for (int k = 0; k < r; k++) {
          accepted += segs[done + k];
          if (segs[done + k] > 1) gsoSends_++;
        }
        sendCalls_++;
        done += r;
      }
      (void)retry;
    }
    datagramsSent_ += accepted;
    return accepted;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("readWakeups", Napi::Number::New(env, static_cast<double>(readWakeups_)));
    o.Set("recvCalls", Napi::Number::New(env, static_cast<double>(recvCalls_)));
    o.Set("buffersReceived", Napi::Number::New(env, static_cast<double>(buffersReceived_)));
    o.Set("groBuffers", Napi::Number::New(env, static_cast<double>(groBuffers_)));
    o.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated_)));
    o.Set("datagramsSent", Napi::Number::New(env, static_cast<double>(datagramsSent_)));
    o.Set("sendCalls", Napi::Number::New(env, static_cast<double>(sendCalls_)));
    o.Set("gsoSends", Napi::Number::New(env, static_cast<double>(gsoSends_)));
    o.Set("sendErrors", Napi::Number::New(env, static_cast<double>(sendErrors_)));
    o.Set("lastSendErrno", Napi::Number::New(env, lastSendErrno_));
    o.Set("sendBlocked", Napi::Number::New(env, static_cast<double>(sendBlocked_)));
    o.Set("gso", Napi::Boolean::New(env, gso_));
    o.Set("gsoDisabledByEio", Napi::Boolean::New(env, gsoDisabled_));
    o.Set("handshakesSeen", Napi::Number::New(env, static_cast<double>(handshakesSeen_)));
    o.Set("shedRate", Napi::Number::New(env, static_cast<double>(shedRate_)));
    o.Set("shedBudget", Napi::Number::New(env, static_cast<double>(shedBudget_)));
    o.Set("shedInvalid", Napi::Number::New(env, static_cast<double>(shedInvalid_)));
    o.Set("drainCapHits", Napi::Number::New(env, static_cast<double>(drainCapHits_)));
    o.Set("datagramsDrained", Napi::Number::New(env, static_cast<double>(datagramsDrained_)));
    o.Set("underLoad", Napi::Boolean::New(env, MonotonicNs() < underLoadUntilNs_));
    return o;
  }

  static int64_t MonotonicNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  // The UDP_GRO segment size of a received message, 0 when it is a single datagram.
  static int GroSegment(mmsghdr& m) {
    int seg = 0;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&m.msg_hdr); cm != nullptr; cm = CMSG_NXTHDR(&m.msg_hdr, cm)) {
      if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
        if (cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
          int s32 = 0;
          memcpy(&s32, CMSG_DATA(cm), sizeof s32);
          seg = s32;
        } else {
          uint16_t s16 = 0;
          memcpy(&s16, CMSG_DATA(cm), sizeof s16);
          seg = s16;
        }
      }
    }
    return seg > 0 && static_cast<unsigned>(seg) < m.msg_len ? seg : 0;
  }

  // A datagram that is not transport data: charged to its source while under load, then copied
  // to a small slot if the batch has room for its class (see classify.h).
  void AdmitSmall(const uint8_t* d, size_t len, wirespan::RxClass cls, const uint8_t* rec,
                      int64_t nowNs) {
    handshakesSeen_++;
    if (++drainHandshakes_ > kLoadDepth) underLoadUntilNs_ = nowNs + kUnderLoadNs;
    if (nowNs < underLoadUntilNs_ && !limiter_.Allow(wirespan::SourceLimiter::KeyOf(rec), nowNs)) {
      shedRate_++;
      return;
    }
    if (len > kSmallSlot) {
      shedInvalid_++;
      return;
    }
    bool mac2 = cls == wirespan::RxClass::kHandshakeMac2;
    // Messages without a mac2 may not take the slots kept for those with one.
    size_t limit = mac2 ? smallSlots_ : smallSlots_ - smallSlots_ / 4;
    if (smallUsed_ >= limit) {
      shedBudget_++;
      batchOverloaded_ = true;
      return;
    }
    size_t k = smallUsed_++;
    memcpy(small_ + k * kSmallSlot, d, len);
    smallLen_[k] = static_cast<int32_t>(len);
    memcpy(&smallAddrs_[k * kAddrRecord], rec, kAddrRecord);
    (mac2                                 ? mac2Order_
     : cls == wirespan::RxClass::kHandshake ? plainOrder_
                                            : otherOrder_)
        .push_back(static_cast<uint32_t>(k));
  }

  // Drains the socket (recvmmsg until it is empty, the transport slots are full or kDrainMax
  // datagrams were read), sorting as it goes (classify.h), then hands JS one batch: transport
  // datagrams in their big slots first, then the kept handshake messages from the small slots.
  void ReadBatch() {
    readWakeups_++;
    int64_t nowNs = MonotonicNs();
    uint32_t nT = 0;
    smallUsed_ = 0;
    mac2Order_.clear();
    plainOrder_.clear();
    otherOrder_.clear();
    drainHandshakes_ = 0;
    batchOverloaded_ = false;
    size_t drained = 0;
    uint8_t rec[kAddrRecord];
    while (nT < maxBatch_) {
      uint32_t want = maxBatch_ - nT;
      for (uint32_t j = 0; j < want; j++) {
        uint32_t slot = nT + j;
        iovs_[j].iov_base = buf_ + static_cast<size_t>(slot) * slot_;
        iovs_[j].iov_len = slot_;
        mmsghdr& m = msgs_[j];
        memset(&m, 0, sizeof m);
        m.msg_hdr.msg_iov = &iovs_[j];
        m.msg_hdr.msg_iovlen = 1;
        m.msg_hdr.msg_name = &names_[j];
        m.msg_hdr.msg_namelen = sizeof names_[j];
        m.msg_hdr.msg_control = &cmsgs_[j * kCmsgSpace];
        m.msg_hdr.msg_controllen = kCmsgSpace;
      }
      int r;
      do {
        r = recvmmsg(fd_, msgs_.data(), want, MSG_DONTWAIT, nullptr);
      } while (r < 0 && errno == EINTR);
      recvCalls_++;
      if (r <= 0) break;
      uint32_t base = nT;
      for (int j = 0; j < r; j++) {
        mmsghdr& m = msgs_[j];
        if (m.msg_hdr.msg_flags & MSG_TRUNC) {
          truncated_++;
          continue;
        }
        uint8_t* data = buf_ + static_cast<size_t>(base + j) * slot_;
        size_t len = m.msg_len;
        int seg = GroSegment(m);
        FromSockaddr(&names_[j], rec);
        size_t first = seg > 0 ? static_cast<size_t>(seg) : len;
        if (wirespan::Classify(data, first) == wirespan::RxClass::kTransport) {
          // Stays in a big slot; moved down over slots freed by what was sorted out before it.
          if (base + j != nT) memmove(buf_ + static_cast<size_t>(nT) * slot_, data, len);
          meta_[4 * nT] = static_cast<int32_t>(static_cast<size_t>(nT) * slot_);
          meta_[4 * nT + 1] = static_cast<int32_t>(len);
          meta_[4 * nT + 2] = seg;
          meta_[4 * nT + 3] = 0;
          memcpy(addrs_ + nT * kAddrRecord, rec, kAddrRecord);
          if (seg != 0) groBuffers_++;
          nT++;
          continue;
        }
        for (size_t off = 0; off < len; off += first) {
          size_t l = len - off < first ? len - off : first;
          wirespan::RxClass cls = wirespan::Classify(data + off, l);
          // A transport segment inside a buffer that did not start with one: sorted last.
          if (cls == wirespan::RxClass::kTransport) cls = wirespan::RxClass::kOther;
          AdmitSmall(data + off, l, cls, rec, nowNs);
        }
      }
      drained += static_cast<size_t>(r);
      if (static_cast<uint32_t>(r) < want) break;  // the queue is empty
      if (drained >= kDrainMax) {
        drainCapHits_++;
        break;
      }
    }
    datagramsDrained_ += drained;
    uint32_t n = nT;
    for (const std::vector<uint32_t>* order : {&mac2Order_, &plainOrder_, &otherOrder_}) {
      for (uint32_t k : *order) {
        meta_[4 * n] = static_cast<int32_t>(smallBase_ + k * kSmallSlot);
        meta_[4 * n + 1] = smallLen_[k];
        meta_[4 * n + 2] = 0;
        meta_[4 * n + 3] = 0;
        memcpy(addrs_ + n * kAddrRecord, &smallAddrs_[k * kAddrRecord], kAddrRecord);
        n++;
      }
    }
    buffersReceived_ += n;
    if (n == 0) return;
    int32_t flags = (batchOverloaded_ ? kFlagShed : 0) | (nowNs < underLoadUntilNs_ ? kFlagLoad : 0);
    Deliver(static_cast<int32_t>(n) | (flags << 16));
  }

  // onRead(value): value & 0xffff datagrams; bit 16: handshake messages were shed for lack of
  // room in this batch; bit 17: the socket is under load (queue depth, see classify.h).
  // bit 18 (no datagrams): the socket is writable again after watchWritable(true).
  static constexpr int32_t kFlagShed = 1, kFlagLoad = 2, kFlagWritable = 4;
  static constexpr size_t kSmallSlot = 256;
  static constexpr size_t kDrainMax = 4096;
  static constexpr size_t kLoadDepth = 16;
  static constexpr int64_t kUnderLoadNs = 1'000'000'000;  // wireguard-go UnderLoadAfterTime

  wirespan::SourceLimiter limiter_;
  uint8_t* small_ = nullptr;
  size_t smallBase_ = 0;
  size_t smallSlots_ = 0;
  size_t smallUsed_ = 0;
  std::vector<int32_t> smallLen_;
  std::vector<uint8_t> smallAddrs_;
  std::vector<uint32_t> mac2Order_;
  std::vector<uint32_t> plainOrder_;
  std::vector<uint32_t> otherOrder_;
  size_t drainHandshakes_ = 0;
  bool batchOverloaded_ = false;
  int64_t underLoadUntilNs_ = 0;
  uint64_t handshakesSeen_ = 0;
  uint64_t shedRate_ = 0;
  uint64_t shedBudget_ = 0;
  uint64_t shedInvalid_ = 0;
  uint64_t drainCapHits_ = 0;
  uint64_t datagramsDrained_ = 0;

  int family_ = AF_INET6;
  bool gso_ = false;
  bool gsoDisabled_ = false;
  uint8_t* buf_ = nullptr;
  size_t slot_ = 0;
  uint32_t maxBatch_ = 0;
  int32_t* meta_ = nullptr;
  uint8_t* addrs_ = nullptr;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> names_;
  std::vector<uint8_t> cmsgs_;
  std::vector<iovec> sendIov_;
  std::vector<mmsghdr> sendMsgs_;
  std::vector<uint8_t> sendCmsg_;
  Napi::Reference<Napi::ArrayBuffer> bufferRef_;
  Napi::Reference<Napi::TypedArray> metaRef_;
  Napi::Reference<Napi::TypedArray> addrsRef_;
  uint64_t readWakeups_ = 0;
  uint64_t recvCalls_ = 0;
  uint64_t buffersReceived_ = 0;
  uint64_t groBuffers_ = 0;
  uint64_t truncated_ = 0;
  uint64_t datagramsSent_ = 0;
  uint64_t sendCalls_ = 0;
  uint64_t gsoSends_ = 0;
  uint64_t sendErrors_ = 0;
  int lastSendErrno_ = 0;
  uint64_t sendBlocked_ = 0;
};

}  // namespace

namespace wirespan {

Napi::Object InitUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("openUdp", Napi::Function::New<OpenUdp>(env, "openUdp"));
  exports.Set("setSocketMark", Napi::Function::New<SetSocketMark>(env, "setSocketMark"));
  exports.Set("UdpPoller", UdpPoller::Define(env));
  return exports;
}

}  // namespace wirespan

#else  // !__linux__: nothing exported, so JS falls back to node:dgram.

namespace wirespan {
Napi::Object InitUdp(Napi::Env env, Napi::Object exports) { return exports; }
}  // namespace wirespan

#endif
