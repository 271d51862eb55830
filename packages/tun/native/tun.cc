// wirespan TUN addon: the OS interface only (open, ioctl, poll, read, write, close).
//
// Everything above the file descriptor (packet views, error wording, lifecycle) lives in
// src/linux-tun.ts. The read path fills one ArrayBuffer owned by JS with up to `maxBatch`
// packets per wakeup and calls JS once per batch with the packet count; lengths go into an
// Int32Array that JS also owns, so a batch costs no allocation on either side.
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
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

namespace {

// An Error shaped like Node's system errors: message, code ("EPERM"), errno, syscall.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& subject) {
  char code[64];
  uv_err_name_r(-err, code, sizeof code);
  std::string message = std::string(syscall) + " " + subject + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Value Throw(Napi::Env env, int err, const char* syscall, const std::string& subject) {
  ErrnoError(env, err, syscall, subject).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

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
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return Throw(env, err, "TUNSETIFF", name);
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
class TunPoller : public Napi::ObjectWrap<TunPoller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunPoller",
                       {
                           InstanceMethod<&TunPoller::Start>("start"),
                           InstanceMethod<&TunPoller::Write>("write"),
                           InstanceMethod<&TunPoller::Close>("close"),
                           InstanceMethod<&TunPoller::Stats>("stats"),
                           InstanceMethod<&TunPoller::SetRef>("setRef"),
                       });
  }

  explicit TunPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunPoller>(info) {
    Napi::Env env = info.Env();
    env_ = env;
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
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "TunPoller: no event loop").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, static_cast<int>(fd));
    if (rc < 0) {
      delete poll_;
      poll_ = nullptr;
      Throw(env, -rc, "uv_poll_init", "fd " + std::to_string(fd));
      return;
    }
    poll_->data = this;
    fd_ = static_cast<int>(fd);
    slot_ = static_cast<size_t>(slot);
    maxBatch_ = static_cast<uint32_t>(maxBatch);
    buf_ = static_cast<uint8_t*>(buffer.Data());
    lengths_ = static_cast<int32_t*>(static_cast<void*>(
        static_cast<uint8_t*>(lengths.ArrayBuffer().Data()) + lengths.ByteOffset()));
    bufferRef_ = Napi::Persistent(buffer);
    lengthsRef_ = Napi::Persistent(lengths);
    onRead_ = Napi::Persistent(info[5].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "wirespan:tun");
  }

  ~TunPoller() override { Shutdown(); }

 private:
  // start(readable): watch the fd. start(false) only watches for errors (EPOLLERR is always
  // reported), so an interface deleted before anyone reads is still noticed; start(true) also
  // reads. While watching, the poll handle keeps the event loop alive (a daemon must stay up
  // while its TUN is open) and this object is pinned against garbage collection.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_ || poll_ == nullptr) return env.Undefined();
    bool readable = info.Length() > 0 && info[0].ToBoolean().Value();
    int rc = uv_poll_start(poll_, readable ? UV_READABLE : UV_DISCONNECT, OnPoll);
    if (rc < 0) return Throw(env, -rc, "uv_poll_start", "fd " + std::to_string(fd_));
    if (!watching_) {
      watching_ = true;
      Ref();
    }
    return env.Undefined();
  }

  // setRef(bool): whether an open device keeps the process alive (default true).
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool ref = info.Length() > 0 && info[0].ToBoolean().Value();
    if (poll_ != nullptr) {
      if (ref) {
        uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
      } else {
        uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      }
    }
    return env.Undefined();
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

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
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
    return o;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    TunPoller* self = static_cast<TunPoller*>(handle->data);
    if (self == nullptr || self->closed_) return;
    Napi::HandleScope scope(self->env_);
    if (status < 0) {
      // libuv reports POLLERR as UV_EBADF and has already stopped the handle: the kernel's
      // tun_chr_poll answers EPOLLERR once the interface is gone.
      self->Deliver(status);
      return;
    }
    if (events & UV_READABLE) self->ReadBatch();
  }

  // Reads until EAGAIN or a full batch. The poll is level-triggered, so a full batch with more
  // queued simply wakes us again on the next loop iteration, letting other I/O interleave.
  void ReadBatch() {
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

  void Deliver(int32_t value) {
    Napi::Env env(env_);
    napi_value arg = Napi::Number::New(env, value);
    onRead_.MakeCallback(env.Global(), {arg}, *context_);
    if (env.IsExceptionPending()) {
      // A throwing handler becomes an uncaught exception, as with any Node event callback.
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    if (poll_ != nullptr) {
      // Stop before closing the fd: libuv must remove it from epoll first.
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      // For a non-persistent interface this last close deletes it.
      close(fd_);
      fd_ = -1;
    }
    if (watching_) {
      watching_ = false;
      Unref();
    }
  }

  napi_env env_ = nullptr;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool watching_ = false;
  bool closed_ = false;
  uint8_t* buf_ = nullptr;
  size_t slot_ = 0;
  uint32_t maxBatch_ = 0;
  int32_t* lengths_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> bufferRef_;
  Napi::Reference<Napi::TypedArray> lengthsRef_;
  Napi::FunctionReference onRead_;
  std::unique_ptr<Napi::AsyncContext> context_;
  uint64_t readWakeups_ = 0;
  uint64_t readBatches_ = 0;
  uint64_t packetsRead_ = 0;
  uint64_t readTruncated_ = 0;
  uint32_t largestBatch_ = 0;
  uint64_t packetsWritten_ = 0;
  uint64_t writeDrops_ = 0;
  int lastWriteErrno_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openTun", Napi::Function::New<OpenTun>(env, "openTun"));
  exports.Set("tunName", Napi::Function::New<TunName>(env, "tunName"));
  exports.Set("prepareFd", Napi::Function::New<PrepareFd>(env, "prepareFd"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("getMtu", Napi::Function::New<GetMtu>(env, "getMtu"));
  exports.Set("setMtu", Napi::Function::New<SetMtu>(env, "setMtu"));
  exports.Set("isUp", Napi::Function::New<IsUp>(env, "isUp"));
  exports.Set("setUp", Napi::Function::New<SetUp>(env, "setUp"));
  exports.Set("TunPoller", TunPoller::Define(env));
  return exports;
}

}  // namespace

#else  // !__linux__: builds everywhere so `pnpm install` succeeds; JS reports the platform.

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
}  // namespace

#endif

NODE_API_MODULE(wirespan_tun, Init)
