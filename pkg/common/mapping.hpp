// Owning memory mapping (rings, UMEM): munmap'ed exactly once.
#pragma once

#include <sys/mman.h>
#include <sys/prctl.h>

#include <cstddef>
#include <string>
#include <utility>

#include "pkg/common/error.hpp"

namespace netring {

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, std::size_t len) : addr_(addr), len_(len) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& o) noexcept : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = std::exchange(o.addr_, nullptr);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }
  ~Mapping() { reset(); }

  // mmap(2) with errors as values; `what` names the region for the message.
  static Result<Mapping> map(std::size_t len, int prot, int flags, int fd, off_t offset,
                             const std::string& what) {
    void* p = ::mmap(nullptr, len, prot, flags, fd, offset);
    if (p == MAP_FAILED) return Error::from_errno("mmap", what + ", " + std::to_string(len) + " bytes");
    return Mapping(p, len);
  }

  void* data() const { return addr_; }
  std::byte* bytes() const { return static_cast<std::byte*>(addr_); }
  std::size_t size() const { return len_; }
  bool valid() const { return addr_ != nullptr; }

  // Names an anonymous private mapping so /proc/PID/smaps shows it as
  // "[anon:LABEL]" (how the agent's UMEM is told apart from its heap).
  // Needs Linux 5.17+ with CONFIG_ANON_VMA_NAME; elsewhere prctl fails with
  // EINVAL and the mapping merely stays unnamed, so the result is ignored.
  void name(const char* label) const {
    if (addr_ != nullptr)
      (void)::prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, reinterpret_cast<unsigned long>(addr_), len_,
                    reinterpret_cast<unsigned long>(label));
  }

  void reset() {
    if (addr_ != nullptr) ::munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
  }

 private:
  void* addr_ = nullptr;
  std::size_t len_ = 0;
};

}  // namespace netring
