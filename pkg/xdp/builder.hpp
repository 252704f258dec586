// Builds an XdpSocket: validates the request with clear errors, then
// creates (or joins) the UMEM, sizes and maps the rings, binds, and stocks
// the fill ring.
//
//   auto s = XdpSocketBuilder().interface("eth0").queue(0).rx_ring(2048).build();
//
// Several sockets on one UMEM (one per queue): create the Umem with
// enough frames (sum of frames_needed()), pass it to every builder, and
// build the sockets one after another; the first binds on the UMEM's own
// socket, the others with XDP_SHARED_UMEM and their own fill/completion
// rings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pkg/common/error.hpp"
#include "pkg/xdp/socket.hpp"
#include "pkg/xdp/umem.hpp"
#include "pkg/xdp/xdp_socket.hpp"

namespace netring::xdp {

class XdpSocketBuilder {
 public:
  XdpSocketBuilder& interface(std::string name) {
    ifname_ = std::move(name);
    return *this;
  }
  XdpSocketBuilder& queue(std::uint32_t q) {
    queue_ = q;
    return *this;
  }
  // Ring sizes (powers of two). rx 0 = no RX, tx 0 = no TX. fill defaults
  // to 2 x rx, completion to tx (64 when unused: the kernel wants both
  // UMEM rings on every socket that owns a fill/completion pair).
  XdpSocketBuilder& rx_ring(std::uint32_t n) {
    rx_ = n;
    return *this;
  }
  XdpSocketBuilder& tx_ring(std::uint32_t n) {
    tx_ = n;
    return *this;
  }
  XdpSocketBuilder& fill_ring(std::uint32_t n) {
    fill_ = n;
    return *this;
  }
  XdpSocketBuilder& completion_ring(std::uint32_t n) {
    comp_ = n;
    return *this;
  }
  // Own UMEM (ignored with shared_umem()).
  XdpSocketBuilder& frame_size(std::uint32_t n) {
    umem_cfg_.frame_size = n;
    return *this;
  }
  XdpSocketBuilder& frame_count(std::uint32_t n) {
    umem_cfg_.frame_count = n;
    return *this;
  }
  XdpSocketBuilder& headroom(std::uint32_t n) {
    umem_cfg_.headroom = n;
    return *this;
  }
  XdpSocketBuilder& unaligned(bool on) {
    umem_cfg_.unaligned = on;
    return *this;
  }
  XdpSocketBuilder& huge_pages(bool on) {
    umem_cfg_.huge_pages = on;
    return *this;
  }
  XdpSocketBuilder& tx_metadata_len(std::uint32_t n) {
    umem_cfg_.tx_metadata_len = n;
    return *this;
  }
  XdpSocketBuilder& shared_umem(std::shared_ptr<Umem> u) {
    umem_ = std::move(u);
    return *this;
  }

  XdpSocketBuilder& mode(BindMode m) {
    mode_ = m;
    return *this;
  }
  XdpSocketBuilder& need_wakeup(bool on) {
    need_wakeup_ = on;
    return *this;
  }
  XdpSocketBuilder& multi_buffer(bool on) {
    sg_ = on;
    return *this;
  }
  XdpSocketBuilder& busy_poll(const sys::BusyPoll& bp) {
    busy_poll_ = bp;
    return *this;
  }

  // Frames this socket takes from its UMEM: the fill ring's worth for RX
  // (released frames go straight back into it), the TX ring's for TX.
  std::uint32_t frames_needed() const;
  // Checks what can be checked without the kernel.
  Result<void> validate() const;
  Result<XdpSocket> build() const;

 private:
  std::uint32_t fill_size() const { return fill_ ? fill_ : (rx_ ? 2 * rx_ : 64); }
  std::uint32_t comp_size() const { return comp_ ? comp_ : (tx_ ? tx_ : 64); }

  std::string ifname_;
  std::uint32_t queue_ = 0;
  std::uint32_t rx_ = 2048;
  std::uint32_t tx_ = 0;
  std::uint32_t fill_ = 0;
  std::uint32_t comp_ = 0;
  UmemConfig umem_cfg_{.frame_size = 4096, .frame_count = 0};  // 0: frames_needed()
  std::shared_ptr<Umem> umem_;
  BindMode mode_ = BindMode::kAuto;
  bool need_wakeup_ = true;
  bool sg_ = false;
  sys::BusyPoll busy_poll_;
};

}  // namespace netring::xdp
