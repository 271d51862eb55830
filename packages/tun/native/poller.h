// What the TUN and UDP pollers share: Node-style errno errors, and FdPoller, a JS object that
// owns one non-blocking descriptor watched by a libuv poll handle and calls a JS function per
// batch. The device-specific reading and writing stay in tun.cc and udp.cc.
#pragma once

#include <napi.h>
#include <uv.h>

#include <string.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wirespan {

// An Error shaped like Node's system errors: message, code ("EPERM"), errno, syscall. The
// message is "<syscall> <subject>: <strerror>", or "<syscall>: <strerror>" without a subject.
inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                              const std::string& subject) {
  char code[64];
  uv_err_name_r(-err, code, sizeof code);
  std::string message = std::string(syscall) + (subject.empty() ? "" : " " + subject) + ": " +
                        strerror(err);
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

inline Napi::Value Throw(Napi::Env env, int err, const char* syscall,
                         const std::string& subject = "") {
  ErrnoError(env, err, syscall, subject).ThrowAsJavaScriptException();
  return env.Undefined();
}

inline Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// The memory behind a typed array JS passed in (JS keeps it alive through a Reference).
template <typename T>
T* TypedData(const Napi::TypedArray& array) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(array.ArrayBuffer().Data()) +
                              array.ByteOffset());
}

// Base of TunPoller and UdpPoller (CRTP): Derived implements OnPollEvent(status, events), called
// inside a handle scope while the poller is open. While watching, the poll handle keeps the event
// loop alive and the JS object is pinned against garbage collection; close() (or destruction)
// stops the handle before closing the descriptor, since libuv must remove it from epoll first.
template <typename Derived>
class FdPoller : public Napi::ObjectWrap<Derived> {
 public:
  ~FdPoller() override { Shutdown(); }

 protected:
  explicit FdPoller(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Derived>(info), env_(info.Env()) {}

  // The JS methods every poller has: setRef(bool), close().
  static void AddCommonMethods(std::vector<Napi::ClassPropertyDescriptor<Derived>>* methods) {
    using Method = Napi::Value (Derived::*)(const Napi::CallbackInfo&);
    methods->push_back(
        Napi::ObjectWrap<Derived>::InstanceMethod("setRef", static_cast<Method>(&FdPoller::SetRef)));
    methods->push_back(
        Napi::ObjectWrap<Derived>::InstanceMethod("close", static_cast<Method>(&FdPoller::Close)));
  }

  // Watches fd, which this object owns from then on. On failure: false with a pending JS
  // exception (`what` names the class, `subject` the fd in error messages), fd not taken.
  bool Open(Napi::Env env, int fd, Napi::Function onRead, const char* resource, const char* what,
            const std::string& subject) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, std::string(what) + ": no event loop").ThrowAsJavaScriptException();
      return false;
    }
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd);
    if (rc < 0) {
      delete poll_;
      poll_ = nullptr;
      Throw(env, -rc, "uv_poll_init", subject);
      return false;
    }
    poll_->data = this;
    fd_ = fd;
    onRead_ = Napi::Persistent(onRead);
    context_ = std::make_unique<Napi::AsyncContext>(env, resource);
    return true;
  }

  // Starts (or changes) watching for `events` (UV_READABLE, or UV_DISCONNECT for errors only).
  Napi::Value Watch(Napi::Env env, int events, const std::string& subject) {
    if (closed_ || poll_ == nullptr) return env.Undefined();
    int rc = uv_poll_start(poll_, events, OnPoll);
    if (rc < 0) return Throw(env, -rc, "uv_poll_start", subject);
    if (!watching_) {
      watching_ = true;
      this->Ref();
    }
    return env.Undefined();
  }

  // Calls onRead(value); a throwing handler becomes an uncaught exception, as with any Node
  // event callback.
  void Deliver(int32_t value) {
    Napi::Env env(env_);
    napi_value arg = Napi::Number::New(env, value);
    onRead_.MakeCallback(env.Global(), {arg}, *context_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      // For a non-persistent TUN interface this last close deletes it.
      close(fd_);
      fd_ = -1;
    }
    if (watching_) {
      watching_ = false;
      this->Unref();
    }
  }

  napi_env env_ = nullptr;
  int fd_ = -1;
  bool closed_ = false;

 private:
  // setRef(bool): whether an open poller keeps the process alive (default true).
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    bool ref = info.Length() > 0 && info[0].ToBoolean().Value();
    if (poll_ != nullptr) {
      if (ref) {
        uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
      } else {
        uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      }
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdPoller*>(handle->data);
    if (self == nullptr || self->closed_) return;
    Napi::HandleScope scope(self->env_);
    static_cast<Derived*>(self)->OnPollEvent(status, events);
  }

  uv_poll_t* poll_ = nullptr;
  bool watching_ = false;
  Napi::FunctionReference onRead_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace wirespan
