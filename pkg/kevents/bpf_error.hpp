// An error of a tracing program's load or attach, with the capability a
// failure for want of privileges needs.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include "pkg/common/error.hpp"

namespace netring::kevents {

// load: the error of a program load, where a kernel without BTF is the
// other usual cause.
inline Error tracing_error(std::string op, int err, std::string ctx, bool load = false) {
  const int e = err < 0 ? -err : err;
  Error out(std::move(op), e, std::move(ctx));
  if (e == EPERM || e == EACCES)
    return std::move(out).with_hint("tracing programs need CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)");
  if (load) return std::move(out).with_hint("CO-RE needs the kernel's BTF (CONFIG_DEBUG_INFO_BTF)");
  return out;
}

}  // namespace netring::kevents
