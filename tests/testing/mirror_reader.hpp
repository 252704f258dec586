// A plain AF_PACKET reader of the mirror link's far end, for data-path
// tests: decodes every frame as a netring sample on a background thread
// and keeps a copy of the first bytes of each.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "pkg/common/fd.hpp"
#include "pkg/datapath/sample.hpp"

namespace netring::testing {

struct CapturedSample {
  netring::datapath::SampleInfo info;
  std::vector<std::uint8_t> frame;  // the original frame as captured (after the sample header)
};

class MirrorReader {
 public:
  // Opens the socket in the calling thread's namespace (use Netns::within).
  explicit MirrorReader(int far_ifindex);
  ~MirrorReader();
  MirrorReader(const MirrorReader&) = delete;
  MirrorReader& operator=(const MirrorReader&) = delete;

  bool ok() const { return fd_.valid(); }
  // Waits until no frame arrived for `quiet_ms`, then stops reading.
  void drain(int quiet_ms = 300);
  std::vector<CapturedSample> samples() const;
  std::uint64_t not_samples() const { return not_samples_; }
  std::uint64_t socket_drops();  // PACKET_STATISTICS tp_drops, cumulative
  const netring::datapath::SequenceTracker& sequence() const { return seq_; }

 private:
  void loop();
  bool read_one(std::vector<std::uint8_t>& buf);
  UniqueFd fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> last_rx_ns_{0};
  mutable std::mutex mu_;
  std::vector<CapturedSample> samples_;
  netring::datapath::SequenceTracker seq_;
  std::atomic<std::uint64_t> not_samples_{0};
  std::uint64_t drops_ = 0;
};

// Offsets in an untagged Ethernet + IPv4 frame; -1 when not ICMP.
int icmp_type(const std::vector<std::uint8_t>& frame);
int icmp_seq(const std::vector<std::uint8_t>& frame);

}  // namespace netring::testing
