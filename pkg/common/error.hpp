// Errors as values: which operation failed, on what, and why.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace netring {

// An error carries the failing operation ("setsockopt(XDP_UMEM_REG)"), the
// object it was applied to ("veth0 queue 0"), the errno value when there is
// one, and an optional hint for the operator ("needs CAP_NET_RAW").
class Error {
 public:
  Error() = default;
  Error(std::string op, int errnum, std::string context = {}, std::string hint = {})
      : op_(std::move(op)), context_(std::move(context)), hint_(std::move(hint)), errno_(errnum) {}

  // Captures errno at the call site; call it before anything else can clobber errno.
  static Error from_errno(std::string op, std::string context = {}, std::string hint = {}) {
    return Error(std::move(op), errno, std::move(context), std::move(hint));
  }
  // An error that is not a failed system call (bad argument, bad state).
  static Error invalid(std::string op, std::string what) {
    return Error(std::move(op), EINVAL, std::move(what));
  }

  int code() const { return errno_; }
  const std::string& op() const { return op_; }
  const std::string& context() const { return context_; }
  const std::string& hint() const { return hint_; }

  Error&& with_hint(std::string hint) && {
    hint_ = std::move(hint);
    return std::move(*this);
  }

  std::string message() const {
    std::string m = op_;
    if (!context_.empty()) m += " [" + context_ + "]";
    if (errno_ != 0) m += ": " + std::string(std::strerror(errno_));
    if (!hint_.empty()) m += " (" + hint_ + ")";
    return m;
  }

 private:
  std::string op_;
  std::string context_;
  std::string hint_;
  int errno_ = 0;
};

// A value or the error explaining why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const { return std::get<1>(v_); }
  Error take_error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }
  Error take_error() && { return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace netring
