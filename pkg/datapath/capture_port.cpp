#include "pkg/datapath/capture_port.hpp"

#include "pkg/xdp/netdev.hpp"

namespace netring::datapath {

Result<CapturePort> open_capture_port(const CapturePortOptions& opts) {
  auto info = xdp::netdev_info(opts.interface);
  if (!info) return std::move(info).take_error();
  capture::OpenRequest req;
  req.interface = opts.interface;
  req.queues.clear();
  const std::uint32_t n = opts.queues != 0 ? opts.queues : (info->rx_queues != 0 ? info->rx_queues : 1);
  for (std::uint32_t q = 0; q < n; ++q) req.queues.push_back(q);
  req.mode = capture::OpenRequest::Mode::kAuto;
  req.attach_redirect_program = true;
  req.require_native_xdp = true;
  req.snap_len = opts.snap_len;
  req.sample_rate = opts.sample_rate;
  req.frame_size = opts.frame_size;
  req.ring_size = opts.ring_size;
  auto opened = capture::open(req);
  if (!opened) return std::move(opened).take_error();
  CapturePort port;
  port.backend = opened->backend;
  port.fallback_reason = opened->fallback_reason;
  const std::uint32_t rate = opened->backend == capture::Backend::kAfXdp ? 1 : opts.sample_rate;
  for (auto& s : opened->sources)
    port.streams.push_back(std::make_unique<SampleStream>(std::move(s), nullptr, SampleStream::Mode::kDirect, rate));
  return port;
}

}  // namespace netring::datapath
