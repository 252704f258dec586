// The UDP workload's receiver for bench/pod_cost.sh: bench/udp_sink.bpf.c
// at IF's clsact ingress, which takes the flood's packets (IPv4 UDP to
// --dport) with TC_ACT_STOLEN, so that the kernel consumes them as it does
// packets a socket reads, and counts them. Run inside the receiver pod's
// network namespace on its eth0.
//
//   pod_udp_sink --ifname IF [--dport 9]
//
// Prints "attached" once the program is in, then for each line read on
// standard input one line with the packets taken so far (the workload's
// delivered count). Detaches and exits at the end of standard input. Exit
// 2 on a bad argument, 1 when the program cannot be loaded or attached.
// clsact, not tcx: a tcx program has no "stolen" verdict (TCX_DROP frees
// the skb as a drop).
#include <net/if.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/udp_sink.skel.h"
#include "pkg/datapath/tc_hook.hpp"

namespace {

struct SkelDeleter {
  void operator()(udp_sink_bpf* s) const { udp_sink_bpf__destroy(s); }
};

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s --ifname IF [--dport 9]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ifname;
  long dport = 9;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(argv[0]);
    const std::string v = argv[++i];
    if (a == "--ifname") {
      ifname = v;
    } else if (a == "--dport") {
      char* end = nullptr;
      dport = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || dport < 1 || dport > 65535) {
        std::fprintf(stderr, "--dport %s: a port 1-65535\n", v.c_str());
        return 2;
      }
    } else {
      return usage(argv[0]);
    }
  }
  if (ifname.empty()) return usage(argv[0]);
  const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    std::fprintf(stderr, "--ifname %s: no such interface\n", ifname.c_str());
    return 2;
  }

  std::unique_ptr<udp_sink_bpf, SkelDeleter> skel(udp_sink_bpf__open());
  if (!skel) {
    std::perror("udp_sink_bpf__open");
    return 1;
  }
  skel->rodata->dport = static_cast<__u16>(dport);
  if (int err = udp_sink_bpf__load(skel.get()); err != 0) {
    std::fprintf(stderr, "udp_sink_bpf__load: %s\n", std::strerror(-err));
    return 1;
  }
  auto hook =
      netring::datapath::TcHook::attach(ifindex, netring::datapath::HookPoint::kIngress,
                                        bpf_program__fd(skel->progs.udp_sink), netring::datapath::AttachMode::kClsact);
  if (!hook) {
    std::fprintf(stderr, "%s\n", hook.error().message().c_str());
    return 1;
  }
  std::printf("attached\n");
  std::fflush(stdout);

  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    std::fprintf(stderr, "libbpf_num_possible_cpus: %s\n", std::strerror(-ncpu));
    return 1;
  }
  std::vector<__u64> per_cpu(static_cast<std::size_t>(ncpu));
  char line[64];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    const __u32 zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.consumed), &zero, per_cpu.data()) != 0) {
      std::perror("bpf_map_lookup_elem(consumed)");
      return 1;
    }
    unsigned long long total = 0;
    for (__u64 n : per_cpu) total += n;
    std::printf("%llu\n", total);
    std::fflush(stdout);
  }
  return 0;
}
