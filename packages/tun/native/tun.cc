// wirespan TUN addon: the OS interface only (open, ioctl, poll, read, write, close).
//
// Everything above the file descriptor (packet views, error wording, lifecycle) lives in
// src/linux-tun.ts. The read path fills one ArrayBuffer owned by JS with up to `maxBatch`
// packets per wakeup and calls JS once per batch with the packet count; lengths go into an
// Int32Array that JS also owns, so a batch costs no allocation on either side.
//
// Optional TUN offload (openTun(name, true), offload.h): virtio-net headers with TSO, so reads
// yield 64 KiB TCP super-packets that are split here into MTU-sized segments before JS sees
// them, and writes coalesce consecutive segments of one TCP flow into one super-packet. JS sees
// ordinary IP packets either way.
#include <napi.h>

#if defined(__linux__)
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "offload.h"
#include "poller.h"

namespace {

using wirespan::Throw;
using wirespan::ThrowType;

// Reads an interface name argument; false (with a pending exception) if it cannot fit ifr_name.
bool IfName(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  if (info.Length() <= index || !info[index].IsString()) {
    ThrowType(info.Env(), "interface name must be a string");
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->empty() || out->size() >= IFNAMSIZ) {
    ThrowType(info.Env(), "interface name must be 1 to 15 bytes");
    return false;
  }
  return true;
}

bool IntArg(const Napi::CallbackInfo& info, size_t index, int64_t* out) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    ThrowType(info.Env(), "expected an integer argument");
    return false;
  }
  *out = info[index].As<Napi::Number>().Int64Value();
  return true;
}

// SIOC[GS]IF* ioctls need a socket of any family; an AF_INET datagram socket is the usual one,
// AF_INET6 covers kernels built without IPv4.
int ControlSocket() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return s;
}

// Runs one interface ioctl; returns 0 or an errno.
int IfIoctl(unsigned long request, struct ifreq* ifr) {
  int s = ControlSocket();
  if (s < 0) return errno;
  int rc = ioctl(s, request, ifr);
  int err = rc < 0 ? errno : 0;
  close(s);
  return err;
}

void FillName(struct ifreq* ifr, const std::string& name) {
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, name.data(), name.size());
}

// openTun(name) -> fd. Creates the interface (needs CAP_NET_ADMIN) or attaches to an existing
// one (allowed for its owner/group without CAP_NET_ADMIN). IFF_NO_PI: packets are bare IP.
Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!IfName(info, 0, &name)) return env.Undefined();
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Throw(env, errno, "open", "/dev/net/tun");
  struct ifreq ifr;
  FillName(&ifr, name);
  // Optional second argument: ask for virtio-net headers and TCP segmentation offload, so the
  // kernel hands over (and takes) 64 KiB TCP super-packets (offload.h). Falls back silently.
  bool vnet = info.Length() > 1 && info[1].ToBoolean().Value();
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return Throw(env, err, "TUNSETIFF", name);
  }
  if (vnet) {
    int hdr = static_cast<int>(offload::kVnetHdrLen);
    unsigned long features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, features) < 0) {
      ioctl(fd, TUNSETOFFLOAD, 0UL);
    }
  }
  return Napi::Number::New(env, fd);
}

// tunName(fd) -> the interface name the fd is attached to.
Napi::Value TunName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd)) return env.Undefined();
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(static_cast<int>(fd), TUNGETIFF, &ifr) < 0) {
    return Throw(env, errno, "TUNGETIFF", "fd " + std::to_string(fd));
  }
  if (!(ifr.ifr_flags & IFF_TUN)) {
    return Throw(env, EINVAL, "TUNGETIFF", "fd " + std::to_string(fd) + " (TAP, not TUN)");
  }
  if (!(ifr.ifr_flags & IFF_NO_PI)) {
    // Packet-information headers would prefix every packet with 4 bytes we do not parse.
    return Throw(env, EINVAL, "TUNGETIFF", "fd " + std::to_string(fd) + " (IFF_NO_PI not set)");
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  return Napi::String::New(env, ifr.ifr_name);
}

// prepareFd(fd): an inherited descriptor (WG_TUN_FD) may be blocking and inheritable.
Napi::Value PrepareFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd64;
  if (!IntArg(info, 0, &fd64)) return env.Undefined();
  int fd = static_cast<int>(fd64);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    return Throw(env, errno, "fcntl", "fd " + std::to_string(fd));
  }
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
    return Throw(env, errno, "fcntl", "fd " + std::to_string(fd));
  }
  return env.Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd)) return env.Undefined();
  close(static_cast<int>(fd));
  return env.Undefined();
}

// tunVnet(fd): whether the descriptor was attached with IFF_VNET_HDR (every read and write then
// carries a virtio_net_hdr).
Napi::Value TunVnet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd)) return env.Undefined();
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(static_cast<int>(fd), TUNGETIFF, &ifr) < 0) {
    return Throw(env, errno, "TUNGETIFF", "fd " + std::to_string(fd));
  }
  return Napi::Boolean::New(env, (ifr.ifr_flags & IFF_VNET_HDR) != 0);
}

Napi::Value GetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!IfName(info, 0, &name)) return env.Undefined();
  struct ifreq ifr;
  FillName(&ifr, name);
  int err = IfIoctl(SIOCGIFMTU, &ifr);
  if (err) return Throw(env, err, "SIOCGIFMTU", name);
  return Napi::Number::New(env, ifr.ifr_mtu);
}

// setMtu(name, mtu): needs CAP_NET_ADMIN; EPERM is reported to JS, which decides.
Napi::Value SetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int64_t mtu;
  if (!IfName(info, 0, &name) || !IntArg(info, 1, &mtu)) return env.Undefined();
  struct ifreq ifr;
  FillName(&ifr, name);
  ifr.ifr_mtu = static_cast<int>(mtu);
  int err = IfIoctl(SIOCSIFMTU, &ifr);
  if (err) return Throw(env, err, "SIOCSIFMTU", name);
  return env.Undefined();
}

Napi::Value IsUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!IfName(info, 0, &name)) return env.Undefined();
  struct ifreq ifr;
  FillName(&ifr, name);
  int err = IfIoctl(SIOCGIFFLAGS, &ifr);
  if (err) return Throw(env, err, "SIOCGIFFLAGS", name);
  return Napi::Boolean::New(env, (ifr.ifr_flags & IFF_UP) != 0);
}

// setUp(name): read-modify-write of the flags so other flags stay as they are.
Napi::Value SetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!IfName(info, 0, &name)) return env.Undefined();
  struct ifreq ifr;
  FillName(&ifr, name);
  int err = IfIoctl(SIOCGIFFLAGS, &ifr);
  if (err) return Throw(env, err, "SIOCGIFFLAGS", name);
  ifr.ifr_flags |= IFF_UP;
  err = IfIoctl(SIOCSIFFLAGS, &ifr);
  if (err) return Throw(env, err, "SIOCSIFFLAGS", name);
  return env.Undefined();
}

// TunPoller(fd, buffer, slotSize, maxBatch, lengths, onRead) owns fd from construction on.
// onRead(n): n > 0 packets are in slots 0..n-1 of buffer, lengths in lengths[0..n-1];
// n < 0 is -errno of a failure that ends the device (interface deleted: EBADFD/EIO/EBADF).
class TunPoller : public wirespan::FdPoller<TunPoller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    std::vector<Napi::ClassPropertyDescriptor<TunPoller>> methods{
        InstanceMethod<&TunPoller::Start>("start"),
        InstanceMethod<&TunPoller::Write>("write"),
        InstanceMethod<&TunPoller::Stats>("stats"),
        InstanceMethod<&TunPoller::SetBuffer>("setBuffer"),
    };
    AddCommonMethods(&methods);
    return DefineClass(env, "TunPoller", methods);
  }

  explicit TunPoller(const Napi::CallbackInfo& info) : wirespan::FdPoller<TunPoller>(info) {
    Napi::Env env = info.Env();
    int64_t fd, slot, maxBatch;
    if (!IntArg(info, 0, &fd)) return;
    if (info.Length() < 6 || !info[1].IsArrayBuffer() || !info[4].IsTypedArray() ||
        !info[5].IsFunction()) {
      ThrowType(env, "TunPoller(fd, ArrayBuffer, slotSize, maxBatch, Int32Array, onRead)");
      return;
    }
    if (!IntArg(info, 2, &slot) || !IntArg(info, 3, &maxBatch)) return;
    Napi::ArrayBuffer buffer = info[1].As<Napi::ArrayBuffer>();
    Napi::TypedArray lengths = info[4].As<Napi::TypedArray>();
    if (slot <= 0 || maxBatch <= 0 ||
        static_cast<uint64_t>(slot) * static_cast<uint64_t>(maxBatch) > buffer.ByteLength() ||
        lengths.TypedArrayType() != napi_int32_array ||
        lengths.ElementLength() < static_cast<size_t>(maxBatch)) {
      ThrowType(env, "TunPoller: buffer or lengths too small for slotSize x maxBatch");
      return;
    }
    if (!Open(env, static_cast<int>(fd), info[5].As<Napi::Function>(), "wirespan:tun",
              "TunPoller", "fd " + std::to_string(fd))) {
      return;
    }
    slot_ = static_cast<size_t>(slot);
    maxBatch_ = static_cast<uint32_t>(maxBatch);
    buf_ = static_cast<uint8_t*>(buffer.Data());
    lengths_ = wirespan::TypedData<int32_t>(lengths);
    bufferRef_ = Napi::Persistent(buffer);
    lengthsRef_ = Napi::Persistent(lengths);
    vnet_ = info.Length() > 6 && info[6].ToBoolean().Value();
    if (vnet_) scratch_.resize(offload::kVnetHdrLen + 65536);
  }

  void OnPollEvent(int status, int events) {
    if (status < 0) {
      // libuv reports POLLERR as UV_EBADF and has already stopped the handle: the kernel's
      // tun_chr_poll answers EPOLLERR once the interface is gone.
      Deliver(status);
      return;
    }
    if (events & UV_READABLE) ReadBatch();
  }

 private:
  // setBuffer(buffer, slotSize, maxBatch, lengths): read into these slots from the next wakeup
  // on — the MTU was raised, and packets longer than the old slots would be dropped. Not while
  // onRead runs (JS still reads the old views then).
  Napi::Value SetBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t slot, maxBatch;
    if (info.Length() < 4 || !info[0].IsArrayBuffer() || !info[3].IsTypedArray()) {
      return ThrowType(env, "setBuffer(ArrayBuffer, slotSize, maxBatch, Int32Array)");
    }
    if (!IntArg(info, 1, &slot) || !IntArg(info, 2, &maxBatch)) return env.Undefined();
    Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
    Napi::TypedArray lengths = info[3].As<Napi::TypedArray>();
    if (slot <= 0 || maxBatch <= 0 ||
        static_cast<uint64_t>(slot) * static_cast<uint64_t>(maxBatch) > buffer.ByteLength() ||
        lengths.TypedArrayType() != napi_int32_array ||
        lengths.ElementLength() < static_cast<size_t>(maxBatch)) {
      return ThrowType(env, "setBuffer: buffer or lengths too small for slotSize x maxBatch");
    }
    slot_ = static_cast<size_t>(slot);
    maxBatch_ = static_cast<uint32_t>(maxBatch);
    buf_ = static_cast<uint8_t*>(buffer.Data());
    lengths_ = wirespan::TypedData<int32_t>(lengths);
    bufferRef_ = Napi::Persistent(buffer);
    lengthsRef_ = Napi::Persistent(lengths);
    return env.Undefined();
  }

  // start(readable): watch the fd. start(false) only watches for errors (EPOLLERR is always
  // reported), so an interface deleted before anyone reads is still noticed; start(true) also
  // reads. While watching, the loop stays alive (a daemon must stay up while its TUN is open).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    bool readable = info.Length() > 0 && info[0].ToBoolean().Value();
    return Watch(info.Env(), readable ? UV_READABLE : UV_DISCONNECT, "fd " + std::to_string(fd_));
  }

  // write(packets: Uint8Array[]) -> number written. One write(2) per packet: a TUN takes one
  // packet per call, so writev cannot batch. EAGAIN (queue full) and any other failure drop the
  // packet and count it; the caller never blocks.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) return ThrowType(env, "write expects an array");
    napi_value array = info[0];
    uint32_t count = 0;
    napi_get_array_length(env, array, &count);
    if (vnet_) return Napi::Number::New(env, WriteVnet(env, array, count));
    uint32_t written = 0;
    for (uint32_t i = 0; i < count; i++) {
      napi_value item;
      napi_typedarray_type type;
      size_t length;
      void* data;
      if (napi_get_element(env, array, i, &item) != napi_ok ||
          napi_get_typedarray_info(env, item, &type, &length, &data, nullptr, nullptr) !=
              napi_ok ||
          type != napi_uint8_array) {
        // Drop the non-packet but keep the count honest; JS validates before calling.
        writeDrops_++;
        continue;
      }
      if (closed_) {
        writeDrops_++;
        continue;
      }
      ssize_t n;
      do {
        n = ::write(fd_, data, length);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        writeDrops_++;
        lastWriteErrno_ = errno;
      } else {
        packetsWritten_++;
        written++;
      }
    }
    return Napi::Number::New(env, written);
  }

  // Counters as doubles: exact up to 2^53 packets (centuries at 10 Mpps).
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("readWakeups", Napi::Number::New(env, static_cast<double>(readWakeups_)));
    o.Set("readBatches", Napi::Number::New(env, static_cast<double>(readBatches_)));
    o.Set("packetsRead", Napi::Number::New(env, static_cast<double>(packetsRead_)));
    o.Set("readTruncated", Napi::Number::New(env, static_cast<double>(readTruncated_)));
    o.Set("maxBatch", Napi::Number::New(env, static_cast<double>(largestBatch_)));
    o.Set("packetsWritten", Napi::Number::New(env, static_cast<double>(packetsWritten_)));
    o.Set("writeDrops", Napi::Number::New(env, static_cast<double>(writeDrops_)));
    o.Set("lastWriteErrno", Napi::Number::New(env, lastWriteErrno_));
    o.Set("vnet", Napi::Boolean::New(env, vnet_));
    o.Set("superPackets", Napi::Number::New(env, static_cast<double>(superPackets_)));
    o.Set("segmentsRead", Napi::Number::New(env, static_cast<double>(segmentsRead_)));
    o.Set("superWrites", Napi::Number::New(env, static_cast<double>(superWrites_)));
    o.Set("coalesced", Napi::Number::New(env, static_cast<double>(coalesced_)));
    return o;
  }

  // Reads until EAGAIN or a full batch. The poll is level-triggered, so a full batch with more
  // queued simply wakes us again on the next loop iteration, letting other I/O interleave.
  void ReadBatch() {
    if (vnet_) {
      ReadBatchVnet();
      return;
    }
    readWakeups_++;
    uint32_t n = 0;
    int err = 0;
    while (n < maxBatch_) {
      ssize_t r = read(fd_, buf_ + static_cast<size_t>(n) * slot_, slot_);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      if (r == 0) break;
      if (static_cast<size_t>(r) > slot_) {
        // The kernel returns the full length of a packet it truncated to fit (MTU raised
        // behind our back): the copy is partial, so drop it.
        readTruncated_++;
        continue;
      }
      lengths_[n++] = static_cast<int32_t>(r);
    }
    if (n > 0) {
      readBatches_++;
      packetsRead_ += n;
      if (n > largestBatch_) largestBatch_ = n;
      Deliver(static_cast<int32_t>(n));
    }
    if (err != 0 && !closed_) Deliver(-err);
  }

  // Reserves the next read slot for a packet of `len` bytes; nullptr when the batch is full.
  uint8_t* NextSlot(uint32_t* n, size_t len) {
    if (*n >= maxBatch_ || len > slot_) return nullptr;
    return buf_ + static_cast<size_t>(*n) * slot_;
  }

  // Emits the segments of the pending super-packet (from segment pendingNext_) into free slots.
  void DrainPending(uint32_t* n) {
    const uint8_t* pkt = scratch_.data() + offload::kVnetHdrLen;
    // A segment must fit a read slot; one that cannot (MTU raised behind our back) would wait
    // for a free slot forever, so the super-packet is dropped like any oversized read.
    size_t l4 = pendingHdr_.csumStart;
    if (l4 + 20 > pendingLen_ ||
        l4 + static_cast<size_t>(pkt[l4 + 12] >> 4) * 4 + pendingHdr_.gsoSize > slot_) {
      readTruncated_++;
      pendingLen_ = 0;
      return;
    }
    int r = offload::SegmentTcp(
        pkt, pendingLen_, pendingHdr_, pendingNext_,
        [&](size_t len) { return NextSlot(n, len); },
        [&](size_t len) { lengths_[(*n)++] = static_cast<int32_t>(len); });
    if (r < 0) {
      readTruncated_++;
      pendingLen_ = 0;
      return;
    }
    pendingNext_ += static_cast<size_t>(r);
    segmentsRead_ += static_cast<uint64_t>(r);
    if (pendingNext_ >= offload::SegmentCount(pendingLen_, pendingHdr_, pkt)) pendingLen_ = 0;
  }

  // Reads with virtio-net headers: TSO super-packets are split into MTU-sized segments (a super-
  // packet that does not fit the batch finishes in the next one), partial checksums completed.
  void ReadBatchVnet() {
    readWakeups_++;
    uint32_t n = 0;
    int err = 0;
    if (pendingLen_ > 0) DrainPending(&n);
    while (n < maxBatch_ && pendingLen_ == 0) {
      ssize_t r = read(fd_, scratch_.data(), scratch_.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      if (r <= static_cast<ssize_t>(offload::kVnetHdrLen)) continue;
      offload::VnetHdr h = offload::ParseVnet(scratch_.data());
      uint8_t* pkt = scratch_.data() + offload::kVnetHdrLen;
      size_t len = static_cast<size_t>(r) - offload::kVnetHdrLen;
      uint8_t gso = h.gsoType & static_cast<uint8_t>(~offload::kGsoEcn);
      if (gso == offload::kGsoTcpV4 || gso == offload::kGsoTcpV6) {
        superPackets_++;
        pendingHdr_ = h;
        pendingLen_ = len;
        pendingNext_ = 0;
        DrainPending(&n);
        continue;
      }
      if (gso != offload::kGsoNone) {
        readTruncated_++;  // UDP segmentation was not enabled; never expected
        continue;
      }
      if ((h.flags & offload::kNeedsCsum) && !offload::CompletePartial(pkt, len, h)) {
        readTruncated_++;
        continue;
      }
      uint8_t* slot = NextSlot(&n, len);
      if (slot == nullptr) {
        readTruncated_++;
        continue;
      }
      memcpy(slot, pkt, len);
      lengths_[n++] = static_cast<int32_t>(len);
    }
    if (n > 0) {
      readBatches_++;
      packetsRead_ += n;
      if (n > largestBatch_) largestBatch_ = n;
      Deliver(static_cast<int32_t>(n));
      // A super-packet left over keeps the poll readable only if the fd is; finish it now.
      while (pendingLen_ > 0 && !closed_) {
        n = 0;
        DrainPending(&n);
        if (n == 0) break;
        readBatches_++;
        packetsRead_ += n;
        Deliver(static_cast<int32_t>(n));
      }
    }
    if (err != 0 && !closed_) Deliver(-err);
  }

  // Writes with virtio-net headers, coalescing runs of consecutive segments of one TCP flow into
  // one super-packet (at most 64 segments, 64 KiB) that the kernel's TCP takes as one.
  uint32_t WriteVnet(Napi::Env env, napi_value array, uint32_t count) {
    std::vector<iovec> iov;
    std::vector<uint8_t*> data(count, nullptr);
    std::vector<size_t> lens(count, 0);
    for (uint32_t i = 0; i < count; i++) {
      napi_value item;
      napi_typedarray_type type;
      size_t length;
      void* d;
      if (napi_get_element(env, array, i, &item) != napi_ok ||
          napi_get_typedarray_info(env, item, &type, &length, &d, nullptr, nullptr) != napi_ok ||
          type != napi_uint8_array || length == 0) {
        writeDrops_++;
        continue;
      }
      data[i] = static_cast<uint8_t*>(d);
      lens[i] = length;
    }
    uint32_t written = 0;
    uint8_t hdr[offload::kVnetHdrLen];
    uint32_t i = 0;
    while (i < count) {
      if (data[i] == nullptr) {
        i++;
        continue;
      }
      uint8_t* first = data[i];
      offload::TcpInfo t0 = offload::InspectTcp(first, lens[i]);
      uint32_t j = i + 1;
      size_t total = lens[i];
      if (t0.ok && (t0.flags & 0x08) == 0) {
        uint32_t next = t0.seq + static_cast<uint32_t>(t0.payload);
        size_t prevPayload = t0.payload;
        while (j < count && j - i < 64 && data[j] != nullptr && prevPayload == t0.payload) {
          offload::TcpInfo tj = offload::InspectTcp(data[j], lens[j]);
          if (!offload::CanAppend(first, t0, data[j], tj, next, t0.payload) ||
              total + tj.payload > 65535) {
            break;
          }
          total += tj.payload;
          next += static_cast<uint32_t>(tj.payload);
          prevPayload = tj.payload;
          j++;
          if (tj.flags & 0x08) break;  // PSH ends a run
        }
      }
      iov.clear();
      if (j - i > 1) {
        offload::VnetHdr h{offload::kNeedsCsum,
                           t0.v6 ? offload::kGsoTcpV6 : offload::kGsoTcpV4,
                           static_cast<uint16_t>(t0.hdr), static_cast<uint16_t>(t0.payload),
                           static_cast<uint16_t>(t0.l4), 16};
        offload::WriteVnet(hdr, h);
        // The first packet's header becomes the super-packet's: lengths, PSH of the last one,
        // the IPv4 header checksum, and the TCP field holding the pseudo-header sum
        // (CHECKSUM_PARTIAL, as the kernel expects with NEEDS_CSUM).
        if (t0.v6) {
          offload::PutBe16(first + 4, static_cast<uint16_t>(total - 40));
        } else {
          offload::PutBe16(first + 2, static_cast<uint16_t>(total));
          offload::Ipv4HeaderChecksum(first);
        }
        first[t0.l4 + 13] |= static_cast<uint8_t>(data[j - 1][t0.l4 + 13] & 0x08);
        uint64_t ps = offload::PseudoSum(first, t0.v6, 6, static_cast<uint32_t>(total - t0.l4));
        offload::PutBe16(first + t0.l4 + 16, offload::Fold(ps));
        iov.push_back({hdr, sizeof hdr});
        iov.push_back({first, lens[i]});
        for (uint32_t k = i + 1; k < j; k++) {
          iov.push_back({data[k] + t0.hdr, lens[k] - t0.hdr});
        }
        coalesced_ += j - i;
        superWrites_++;
      } else {
        memset(hdr, 0, sizeof hdr);
        iov.push_back({hdr, sizeof hdr});
        iov.push_back({first, lens[i]});
      }
      if (closed_) {
        writeDrops_ += j - i;
        i = j;
        continue;
      }
      ssize_t n;
      do {
        n = ::writev(fd_, iov.data(), static_cast<int>(iov.size()));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        writeDrops_ += j - i;
        lastWriteErrno_ = errno;
      } else {
        packetsWritten_ += j - i;
        written += j - i;
      }
      i = j;
    }
    return written;
  }

  uint8_t* buf_ = nullptr;
  size_t slot_ = 0;
  uint32_t maxBatch_ = 0;
  int32_t* lengths_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> bufferRef_;
  Napi::Reference<Napi::TypedArray> lengthsRef_;
  uint64_t readWakeups_ = 0;
  uint64_t readBatches_ = 0;
  uint64_t packetsRead_ = 0;
  uint64_t readTruncated_ = 0;
  uint32_t largestBatch_ = 0;
  uint64_t packetsWritten_ = 0;
  uint64_t writeDrops_ = 0;
  int lastWriteErrno_ = 0;
  // Offload (IFF_VNET_HDR) state: the read scratch buffer and a super-packet being segmented.
  bool vnet_ = false;
  std::vector<uint8_t> scratch_;
  offload::VnetHdr pendingHdr_{};
  size_t pendingLen_ = 0;
  size_t pendingNext_ = 0;
  uint64_t superPackets_ = 0;
  uint64_t segmentsRead_ = 0;
  uint64_t superWrites_ = 0;
  uint64_t coalesced_ = 0;
};

}  // namespace

namespace wirespan {

Napi::Object InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("openTun", Napi::Function::New<OpenTun>(env, "openTun"));
  exports.Set("tunName", Napi::Function::New<TunName>(env, "tunName"));
  exports.Set("prepareFd", Napi::Function::New<PrepareFd>(env, "prepareFd"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("tunVnet", Napi::Function::New<TunVnet>(env, "tunVnet"));
  exports.Set("getMtu", Napi::Function::New<GetMtu>(env, "getMtu"));
  exports.Set("setMtu", Napi::Function::New<SetMtu>(env, "setMtu"));
  exports.Set("isUp", Napi::Function::New<IsUp>(env, "isUp"));
  exports.Set("setUp", Napi::Function::New<SetUp>(env, "setUp"));
  exports.Set("TunPoller", TunPoller::Define(env));
  return exports;
}

}  // namespace wirespan

#else  // !__linux__: builds everywhere so `pnpm install` succeeds; JS reports the platform.

namespace wirespan {
Napi::Object InitTun(Napi::Env env, Napi::Object exports) { return exports; }
}  // namespace wirespan

#endif
