// What this kernel and these privileges allow the data path to do, found by
// trying (not by version numbers): each capability is probed with the
// smallest real operation that needs it.
#pragma once

#include <string>

namespace netring::datapath {

struct Features {
  bool bpf_loading = false;  // a SCHED_CLS program loads (CAP_BPF + CAP_NET_ADMIN)
  bool tcx = false;          // BPF_PROG_QUERY on a tcx attach point works (>= 6.6)
  bool af_xdp = false;       // an AF_XDP socket can be created (kernel + CAP_NET_RAW)
  std::string bpf_error;     // why not, when false
  std::string af_xdp_error;
};

Features probe_features();

}  // namespace netring::datapath
