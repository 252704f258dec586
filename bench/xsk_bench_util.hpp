// Pieces the AF_XDP benchmarks share (afxdp_bench, capture_port_bench):
// clocks, the A/B summaries, the generator's frame template and TX loop,
// and the reference receive loop written against libxdp's xsk API.
#pragma once

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pkg/xdp/xdp_socket.hpp"
#include "tests/testing/libxdp_socket.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace netring::bench {

inline double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
inline double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Machine-wide CPU time from /proc/stat's "cpu" line: (idle + iowait, total).
inline std::pair<double, double> cpu_idle_total() {
  std::ifstream f("/proc/stat");
  std::string tag;
  f >> tag;
  double v[10] = {}, total = 0;
  for (double& x : v) f >> x, total += x;
  return {v[3] + v[4], total};
}

// The first two CPUs this thread may run on, to move it between them (the
// DRAIN scenarios fill a ring from one and drain it from the other); the
// thread's affinity comes back when it goes. With fewer than two CPUs it
// stays where it is.
class CpuPair {
 public:
  CpuPair() {
    CPU_ZERO(&saved_);
    pin_ = ::sched_getaffinity(0, sizeof saved_, &saved_) == 0 && CPU_COUNT(&saved_) >= 2;
    for (int c = 0, k = 0; pin_ && c < CPU_SETSIZE && k < 2; ++c)
      if (CPU_ISSET(c, &saved_)) cpus_[k++] = c;
  }
  ~CpuPair() {
    if (pin_) (void)::sched_setaffinity(0, sizeof saved_, &saved_);
  }
  CpuPair(const CpuPair&) = delete;
  CpuPair& operator=(const CpuPair&) = delete;
  void move_to(int which) const {
    if (!pin_) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus_[which], &one);
    (void)::sched_setaffinity(0, sizeof one, &one);
  }

 private:
  cpu_set_t saved_;
  bool pin_ = false;
  int cpus_[2] = {-1, -1};
};

struct Summary {
  double med = 0, min = 0, max = 0;
};
inline Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {};
  const std::size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {med, v.front(), v.back()};
}

// The frame every sender copies: sequence number patched per packet.
struct Template {
  explicit Template(std::size_t size) : bytes(netring::testing::seq_frame(0, size)) {}
  void write(std::byte* dst, std::uint64_t seq) const {
    std::memcpy(dst, bytes.data(), bytes.size());
    std::memcpy(dst + 42, &seq, sizeof(seq));
  }
  std::vector<std::uint8_t> bytes;
};

// netring's AF_XDP TX: one batch per step. Returns the packets whose
// completions it reaped in the step (the kernel has sent them and handed
// the frame back), not the ones it queued: a queued packet may still be
// dropped or never sent. `submitted` counts the queued ones.
struct NetringTx {
  xdp::XdpSocket& s;
  const Template& t;
  std::uint32_t batch = 64;
  std::uint64_t seq = 0;
  std::uint64_t submitted = 0;
  std::uint64_t completed_before = 0;
  std::uint64_t step() {
    auto frames = s.tx_reserve(batch);  // reaps completions first
    for (auto& f : frames) {
      t.write(f.data, seq++);
      f.len = static_cast<std::uint32_t>(t.bytes.size());
    }
    auto queued = s.tx_submit(static_cast<std::uint32_t>(frames.size()));
    if (queued) submitted += *queued;
    // Everything submitted and no longer outstanding has completed.
    const std::uint64_t completed = submitted - s.tx_outstanding();
    const std::uint64_t n = completed - completed_before;
    completed_before = completed;
    return n;
  }
};

// The reference receive loop (libxdp's xdpsock shape): peek up to `batch`,
// read each packet's sequence number, recycle the frames into the fill
// ring, release. Empty: kick if the fill ring asks, then poll() (block).
inline std::uint64_t libxdp_rx_step(netring::testing::LibxdpSocket& s, std::uint32_t batch, std::uint64_t& sink,
                                    bool block = true) {
  __u32 idx_rx = 0, idx_fq = 0;
  const unsigned rcvd = xsk_ring_cons__peek(&s.rx_, batch, &idx_rx);
  if (rcvd == 0) {
    if (xsk_ring_prod__needs_wakeup(&s.fq_)) ::recvfrom(s.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    if (block) {
      pollfd p{s.fd(), POLLIN, 0};
      ::poll(&p, 1, 10);
    }
    return 0;
  }
  while (xsk_ring_prod__reserve(&s.fq_, rcvd, &idx_fq) != rcvd) {
  }
  std::uint64_t sum = 0;
  const std::uint64_t mask = ~std::uint64_t{s.frame_size() - 1};
  for (unsigned i = 0; i < rcvd; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&s.rx_, idx_rx + i);
    sum += netring::testing::seq_of(static_cast<const std::byte*>(xsk_umem__get_data(s.area(), d->addr)), d->len);
    *xsk_ring_prod__fill_addr(&s.fq_, idx_fq + i) = xsk_umem__extract_addr(d->addr) & mask;
  }
  sink = sum;
  xsk_ring_prod__submit(&s.fq_, rcvd);
  xsk_ring_cons__release(&s.rx_, rcvd);
  return rcvd;
}

// A queue stays busy for a moment after its last socket closed (the
// kernel tears the buffer pool down asynchronously): retry EBUSY briefly.
template <class Make>
auto retry_busy(Make&& make) {
  const double deadline = now_s() + 5;
  for (;;) {
    errno = 0;
    auto r = make();
    if (r || errno != EBUSY || now_s() > deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace netring::bench
