#include "pkg/xdp/features.hpp"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

#include "pkg/common/fd.hpp"
#include "pkg/common/mapping.hpp"
#include "pkg/xdp/ffi.hpp"
#include "pkg/xdp/ring_mapping.hpp"
#include "pkg/xdp/socket.hpp"

namespace netring::xdp {

namespace {

bool register_probe_umem(int fd, void* area, std::uint32_t flags, std::uint32_t tx_metadata_len) {
  ffi::UmemReg reg{};
  reg.addr = reinterpret_cast<std::uintptr_t>(area);
  reg.len = 4096;
  reg.chunk_size = 2048;
  reg.flags = flags;
  reg.tx_metadata_len = tx_metadata_len;
  return ::setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) == 0;
}

}  // namespace

KernelFeatures probe_kernel_features() {
  KernelFeatures f;
  auto s = sys::open_socket("feature probe");
  if (!s) {
    f.af_xdp_error = s.error().message();
    return f;
  }
  f.af_xdp = true;
  if (auto off = query_mmap_offsets(s->get()); off) f.need_wakeup = off->has_flags;

  // tx_metadata_len: kernels before 6.11 reject the unknown UMEM flag.
  if (auto area = Mapping::map(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "probe UMEM"); area)
    if (auto t = sys::open_socket(); t)
      f.tx_metadata_len = register_probe_umem(t->get(), area->data(), XDP_UMEM_TX_METADATA_LEN, 16);

  // Multi-buffer: xsk_bind() checks the flags before anything else, so a
  // bind to ifindex 0 (no such device) tells them apart without touching
  // any device: pre-6.6 kernels say EINVAL (unknown flag), newer ENODEV.
  struct sockaddr_xdp sa {};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_flags = XDP_COPY | XDP_USE_SG;
  sa.sxdp_ifindex = 0;
  f.multi_buffer = ::bind(s->get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa)) != 0 && errno == ENODEV;
  return f;
}

bool DriverXdpFeatures::native() const {
  return flags & NETRING_NETDEV_XDP_ACT_BASIC;
}
bool DriverXdpFeatures::redirect() const {
  return flags & NETRING_NETDEV_XDP_ACT_REDIRECT;
}
bool DriverXdpFeatures::zero_copy() const {
  return flags & NETRING_NETDEV_XDP_ACT_XSK_ZEROCOPY;
}
bool DriverXdpFeatures::rx_sg() const {
  return flags & NETRING_NETDEV_XDP_ACT_RX_SG;
}

std::string DriverXdpFeatures::describe() const {
  if (!known) return "unknown (kernel without the netdev netlink family)";
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ",";
    s += name;
  };
  add(native(), "basic");
  add(redirect(), "redirect");
  add(flags & NETRING_NETDEV_XDP_ACT_NDO_XMIT, "ndo-xmit");
  add(zero_copy(), "xsk-zerocopy");
  add(flags & NETRING_NETDEV_XDP_ACT_HW_OFFLOAD, "hw-offload");
  add(rx_sg(), "rx-sg");
  add(flags & NETRING_NETDEV_XDP_ACT_NDO_XMIT_SG, "ndo-xmit-sg");
  return s.empty() ? "none" : s;
}

namespace {

struct MnlSocketDeleter {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

struct GenlReply {
  std::uint16_t family_id = 0;
  DriverXdpFeatures* features = nullptr;
};

int family_attr_cb(const struct nlattr* a, void* data) {
  if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) >= 0)
    static_cast<GenlReply*>(data)->family_id = mnl_attr_get_u16(a);
  return MNL_CB_OK;
}
int family_cb(const struct nlmsghdr* nlh, void* data) {
  mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
  return MNL_CB_OK;
}
int dev_attr_cb(const struct nlattr* a, void* data) {
  auto* f = static_cast<GenlReply*>(data)->features;
  switch (mnl_attr_get_type(a)) {
    case NETRING_NETDEV_A_DEV_XDP_FEATURES:
      if (mnl_attr_validate(a, MNL_TYPE_U64) >= 0) f->flags = mnl_attr_get_u64(a);
      break;
    case NETRING_NETDEV_A_DEV_XDP_ZC_MAX_SEGS:
      if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) f->zc_max_segs = mnl_attr_get_u32(a);
      break;
    default: break;
  }
  return MNL_CB_OK;
}
int dev_cb(const struct nlmsghdr* nlh, void* data) {
  mnl_attr_parse(nlh, sizeof(struct genlmsghdr), dev_attr_cb, data);
  return MNL_CB_OK;
}

// One request, one reply; a netlink error comes back as a negative return
// from mnl_cb_run with errno set.
Result<void> transact(mnl_socket* nl, struct nlmsghdr* nlh, std::vector<char>& buf, mnl_cb_t cb, void* data,
                      const char* op) {
  const unsigned portid = mnl_socket_get_portid(nl);
  const unsigned seq = nlh->nlmsg_seq;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return Error::from_errno(op);
  // Without NLM_F_ACK a single-object GET is answered by one message (or
  // an NLMSG_ERROR, which mnl_cb_run turns into -1 with errno set).
  ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) return Error::from_errno(op);
  if (mnl_cb_run(buf.data(), n, seq, portid, cb, data) < 0) return Error::from_errno(op);
  return ok();
}

}  // namespace

Result<DriverXdpFeatures> driver_xdp_features(std::uint32_t ifindex) {
  DriverXdpFeatures f;
  MnlSocket nl(mnl_socket_open(NETLINK_GENERIC));
  if (!nl) return Error::from_errno("mnl_socket_open(NETLINK_GENERIC)");
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return Error::from_errno("mnl_socket_bind(genl)");
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  GenlReply reply;
  reply.features = &f;

  struct nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = GENL_ID_CTRL;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = 1;
  auto* g = static_cast<struct genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr)));
  g->cmd = CTRL_CMD_GETFAMILY;
  g->version = 1;
  mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, NETRING_NETDEV_FAMILY_NAME);
  if (auto r = transact(nl.get(), nlh, buf, family_cb, &reply, "genl CTRL_CMD_GETFAMILY(netdev)"); !r) {
    if (r.error().code() == ENOENT) return f;  // kernel < 6.3: unknown, not an error
    return std::move(r).take_error();
  }
  if (reply.family_id == 0) return f;

  nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = reply.family_id;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = 2;
  g = static_cast<struct genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr)));
  g->cmd = NETRING_NETDEV_CMD_DEV_GET;
  g->version = 1;
  mnl_attr_put_u32(nlh, NETRING_NETDEV_A_DEV_IFINDEX, ifindex);
  if (auto r = transact(nl.get(), nlh, buf, dev_cb, &reply, "genl NETDEV_CMD_DEV_GET"); !r)
    return std::move(r).take_error();
  f.known = true;
  return f;
}

}  // namespace netring::xdp
