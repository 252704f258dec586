#include "pkg/capture/direct_capture.hpp"

#include "pkg/packet/filter.hpp"

namespace netring::capture {

Result<DirectCapture> DirectCapture::open(const DirectCaptureOptions& opts) {
  if (opts.members == 0) return Error::invalid("capture::DirectCapture", "0 fanout members");
  auto prog = packet::direct_capture_filter(opts.rule, opts.sample_rate, opts.snap_len);
  if (!prog) return std::move(prog).take_error();
  packet::FanoutGroup group(packet::FanoutOptions{.mode = opts.fanout_mode});
  std::vector<std::unique_ptr<Source>> out;
  for (unsigned i = 0; i < opts.members; ++i) {
    auto sock = packet::PacketSocket::create(packet::SocketOptions{.ring = opts.ring, .log = opts.log});
    if (!sock) return std::move(sock).take_error();
    // Before start(): an unbound socket receives nothing, so the first
    // packet already meets the filter.
    if (auto a = packet::attach_classic(sock->fd(), *prog, "direct capture"); !a) return std::move(a).take_error();
    if (auto st = sock->start(); !st) return std::move(st).take_error();
    if (auto j = group.join(sock->fd()); !j) return std::move(j).take_error();
    std::string d = "AF_PACKET direct on " + std::to_string(opts.rule.hooked.size()) +
                    " hooked interfaces, classic 1-in-" + std::to_string(opts.sample_rate) + " filter, fanout " +
                    packet::to_string(opts.fanout_mode) + " group " + std::to_string(group.id().value_or(0)) +
                    " member " + std::to_string(i + 1) + "/" + std::to_string(opts.members);
    out.push_back(std::make_unique<PacketSource>(std::move(*sock), std::move(d)));
  }
  return DirectCapture(std::move(out), opts.sample_rate, opts.snap_len);
}

Result<void> DirectCapture::set_rule(const packet::DirectCaptureRule& rule) {
  auto prog = packet::direct_capture_filter(rule, rate_, snap_);
  if (!prog) return std::move(prog).take_error();
  for (auto& s : sources_) {
    if (auto a = packet::attach_classic(s->fd(), *prog, "direct capture"); !a) return std::move(a).take_error();
  }
  return ok();
}

}  // namespace netring::capture
