// Socket filters on AF_PACKET sockets, and netring's 1-in-N sampler in its
// two forms. A socket filter runs before the packet is copied into the ring
// (tpacket_rcv -> run_filter); returning 0 drops it there, so an unsampled
// packet costs one program run and is not counted in PACKET_STATISTICS.
//
// eBPF (SO_ATTACH_BPF, bpf/socket_sampler.bpf.c) where BPF programs may be
// loaded; classic BPF (SO_ATTACH_FILTER) with SKF_AD_RANDOM where they may
// not: a classic filter needs no CAP_BPF and no verifier-visible program.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"

namespace netring::packet {

using ClassicProgram = std::vector<sock_filter>;

// SO_ATTACH_FILTER; replaces any filter already attached, atomically.
Result<void> attach_classic(int fd, std::span<const sock_filter> prog, const std::string& what = {});
// SO_ATTACH_BPF with a loaded BPF_PROG_TYPE_SOCKET_FILTER program.
Result<void> attach_ebpf(int fd, int prog_fd, const std::string& what = {});
Result<void> detach_filter(int fd);

// What a sampler returns for a kept packet: snap_len bytes, or the whole
// packet when snap_len is 0.
//
// 1-in-rate (rate 0 keeps nothing, 1 keeps all) as classic BPF:
//   ld  #rand          A = prandom_u32()   (SKF_AD_OFF + SKF_AD_RANDOM, 3.6)
//   mod #rate          A %= rate           (BPF_MOD, 3.7)
//   jeq #0, keep, drop
ClassicProgram classic_sampler(std::uint32_t rate, std::uint32_t snap_len);

// The eBPF sampler, loaded from the embedded skeleton with rate and snap
// length fixed in its rodata. Owns the program; the program stays alive
// while attached to a socket even after this object is gone.
class EbpfSampler {
 public:
  static Result<EbpfSampler> load(std::uint32_t rate, std::uint32_t snap_len);
  int prog_fd() const { return prog_.get(); }

 private:
  explicit EbpfSampler(UniqueFd prog) : prog_(std::move(prog)) {}
  UniqueFd prog_;
};

}  // namespace netring::packet
