// Owning handle for a `bpftool gen skeleton` object: destroyed exactly once.
#pragma once

#include <memory>

namespace netring::bpf {

// Skel is the generated struct (e.g. socket_sampler_bpf); Destroy is its
// generated __destroy function.
template <class Skel, void (*Destroy)(Skel*)>
struct SkeletonDeleter {
  void operator()(Skel* s) const {
    if (s != nullptr) Destroy(s);
  }
};

template <class Skel, void (*Destroy)(Skel*)>
using Skeleton = std::unique_ptr<Skel, SkeletonDeleter<Skel, Destroy>>;

}  // namespace netring::bpf
