// A reference AF_XDP socket written against libxdp's xsk API (<xdp/xsk.h>),
// for interop tests and the benchmark only; netring itself never uses
// libxdp. libxdp never loads its own program here
// (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): RX goes through netring's
// redirect program, so only the socket code differs. Header-only, so only
// the executables that link libxdp pay for it.
#pragma once

#include <sys/mman.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace netring::testing {

class LibxdpSocket {
 public:
  // rx_size/tx_size 0 = no such ring. Fill = fill_size (0: 2 x rx),
  // completion = tx, one UMEM of fill + tx frames, all RX frames put in the
  // fill ring.
  static std::unique_ptr<LibxdpSocket> create(const std::string& ifname, unsigned queue, unsigned rx_size,
                                              unsigned tx_size, unsigned frame_size, std::string* err,
                                              unsigned fill_size = 0) {
    std::unique_ptr<LibxdpSocket> s(new LibxdpSocket());
    s->frame_size_ = frame_size;
    s->rx_frames_ = rx_size ? (fill_size ? fill_size : 2 * rx_size) : 0;
    s->tx_frames_ = tx_size;
    s->len_ = static_cast<std::size_t>(s->rx_frames_ + s->tx_frames_) * frame_size;
    void* area = ::mmap(nullptr, s->len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) return fail(err, "mmap", errno);
    s->area_ = static_cast<std::byte*>(area);
    xsk_umem_config uc{};
    uc.fill_size = rx_size ? s->rx_frames_ : 64;
    uc.comp_size = tx_size ? tx_size : 64;
    uc.frame_size = frame_size;
    uc.frame_headroom = 0;
    uc.flags = 0;
    if (int r = xsk_umem__create(&s->umem_, area, s->len_, &s->fq_, &s->cq_, &uc); r != 0)
      return fail(err, "xsk_umem__create", -r);
    xsk_socket_config sc{};
    sc.rx_size = rx_size;
    sc.tx_size = tx_size;
    sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    sc.xdp_flags = 0;
    sc.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
    if (int r = xsk_socket__create(&s->xsk_, ifname.c_str(), queue, s->umem_, rx_size ? &s->rx_ : nullptr,
                                   tx_size ? &s->tx_ : nullptr, &sc);
        r != 0)
      return fail(err, "xsk_socket__create", -r);
    if (s->rx_frames_ != 0) {
      __u32 idx = 0;
      if (xsk_ring_prod__reserve(&s->fq_, s->rx_frames_, &idx) != s->rx_frames_)
        return fail(err, "fill ring reserve", ENOSPC);
      for (unsigned i = 0; i < s->rx_frames_; ++i) *xsk_ring_prod__fill_addr(&s->fq_, idx + i) = i * frame_size;
      xsk_ring_prod__submit(&s->fq_, s->rx_frames_);
    }
    return s;
  }

  ~LibxdpSocket() {
    if (xsk_ != nullptr) xsk_socket__delete(xsk_);
    if (umem_ != nullptr) xsk_umem__delete(umem_);
    if (area_ != nullptr) ::munmap(area_, len_);
  }
  LibxdpSocket(const LibxdpSocket&) = delete;
  LibxdpSocket& operator=(const LibxdpSocket&) = delete;

  int fd() const { return xsk_socket__fd(xsk_); }
  std::byte* area() const { return area_; }
  unsigned frame_size() const { return frame_size_; }
  // TX frames are the ones after the RX frames.
  std::uint64_t tx_frame(unsigned i) const { return static_cast<std::uint64_t>(rx_frames_ + i) * frame_size_; }
  unsigned tx_frames() const { return tx_frames_; }

  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
  xsk_ring_prod fq_{};
  xsk_ring_cons cq_{};

 private:
  LibxdpSocket() = default;
  static std::unique_ptr<LibxdpSocket> fail(std::string* err, const char* op, int e) {
    if (err) *err = std::string(op) + ": " + std::strerror(e);
    errno = e;
    return nullptr;
  }
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  std::byte* area_ = nullptr;
  std::size_t len_ = 0;
  unsigned frame_size_ = 0;
  unsigned rx_frames_ = 0;
  unsigned tx_frames_ = 0;
};

}  // namespace netring::testing
