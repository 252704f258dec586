#include "pkg/datapath/mirror_link.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "pkg/common/fd.hpp"
#include "pkg/datapath/rtnetlink.hpp"

namespace netring::datapath {
namespace {

// Requests are small: a few attributes.
using Buffer = std::array<char, 4096>;

ifinfomsg* put_ifinfo(nlmsghdr* nlh) {
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  return ifm;
}

Result<void> create_pair(Rtnetlink& nl, const MirrorLinkOptions& o) {
  Buffer buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  nlh->nlmsg_seq = nl.next_seq();
  ifinfomsg* ifm = put_ifinfo(nlh);
  ifm->ifi_flags = IFF_NOARP;
  ifm->ifi_change = IFF_NOARP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, o.near_name.c_str());
  mnl_attr_put_u32(nlh, IFLA_NUM_TX_QUEUES, o.queues);
  mnl_attr_put_u32(nlh, IFLA_NUM_RX_QUEUES, o.queues);
  mnl_attr_put_u32(nlh, IFLA_MTU, o.mtu);
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // VETH_INFO_PEER holds an ifinfomsg followed by the peer's attributes.
  auto* pifm = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(nlh));
  std::memset(pifm, 0, sizeof *pifm);
  pifm->ifi_family = AF_UNSPEC;
  pifm->ifi_flags = IFF_NOARP;
  pifm->ifi_change = IFF_NOARP;
  nlh->nlmsg_len += MNL_ALIGN(sizeof *pifm);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, o.far_name.c_str());
  // A veth's RX queues must cover its peer's TX queues.
  mnl_attr_put_u32(nlh, IFLA_NUM_TX_QUEUES, o.queues);
  mnl_attr_put_u32(nlh, IFLA_NUM_RX_QUEUES, o.queues);
  mnl_attr_put_u32(nlh, IFLA_MTU, o.mtu);
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  return nl.request(nlh, "create veth " + o.near_name + "/" + o.far_name);
}

Result<void> set_up(Rtnetlink& nl, int ifindex, const std::string& name) {
  Buffer buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = nl.next_seq();
  ifinfomsg* ifm = put_ifinfo(nlh);
  ifm->ifi_index = ifindex;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  return nl.request(nlh, "set up " + name);
}

Result<void> delete_link(Rtnetlink& nl, const std::string& name) {
  Buffer buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_DELLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = nl.next_seq();
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  auto r = nl.request(nlh, "delete link " + name);
  if (!r && r.error().code() == ENODEV) return ok();
  return r;
}

// IPv6 off without /proc/sys: address generation mode NONE makes the kernel
// create no link-local address when the link goes up, and with no address
// there is no DAD, no router solicitation and no solicited-node group to
// report, so the link sends no NDP/MLD. It must be set before the link goes
// up (a link-local made earlier would stay).
Result<void> ipv6_addr_gen_none(Rtnetlink& nl, int ifindex, const std::string& name) {
  Buffer buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_SETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = nl.next_seq();
  ifinfomsg* ifm = put_ifinfo(nlh);
  ifm->ifi_index = ifindex;
  nlattr* af_spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
  nlattr* inet6 = mnl_attr_nest_start(nlh, AF_INET6);
  mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  mnl_attr_nest_end(nlh, inet6);
  mnl_attr_nest_end(nlh, af_spec);
  auto r = nl.request(nlh, "set IPv6 addr_gen_mode none on " + name);
  if (!r && r.error().code() == EAFNOSUPPORT) return ok();  // kernel without IPv6
  return r;
}

// /proc/sys/net resolves against the calling thread's network namespace. In
// an unprivileged container /proc/sys is mounted read-only (EROFS) or hidden
// (EACCES/ENOENT), so those fall back to rtnetlink, which needs only
// CAP_NET_ADMIN in the link's namespace.
Result<void> disable_ipv6(Rtnetlink& nl, int ifindex, const std::string& dev, bool force_netlink) {
  if (force_netlink) return ipv6_addr_gen_none(nl, ifindex, dev);
  const std::string path = "/proc/sys/net/ipv6/conf/" + dev + "/disable_ipv6";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == EROFS || errno == EACCES || errno == ENOENT) return ipv6_addr_gen_none(nl, ifindex, dev);
    return Error::from_errno("open", path);
  }
  if (::write(fd.get(), "1", 1) != 1) {
    if (errno == EROFS || errno == EACCES) return ipv6_addr_gen_none(nl, ifindex, dev);
    return Error::from_errno("write", path);
  }
  return ok();
}

}  // namespace

Result<MirrorLink> MirrorLink::create(const MirrorLinkOptions& opts) {
  if (opts.queues == 0 || opts.near_name.empty() || opts.far_name.empty() || opts.near_name.size() >= IFNAMSIZ ||
      opts.far_name.size() >= IFNAMSIZ)
    return Error::invalid("MirrorLink::create", "names must be 1..15 characters and queues >= 1");
  auto nl = Rtnetlink::open();
  if (!nl) return std::move(nl).take_error();
  // A pair left by a crashed agent: deleting one end deletes both.
  if (auto r = delete_link(*nl, opts.near_name); !r) return std::move(r).take_error();
  if (auto r = delete_link(*nl, opts.far_name); !r) return std::move(r).take_error();
  if (auto r = create_pair(*nl, opts); !r) return std::move(r).take_error();

  MirrorLink m;
  m.opts_ = opts;
  m.owned_ = true;  // from here on the destructor removes the pair
  m.near_ifindex_ = static_cast<int>(::if_nametoindex(opts.near_name.c_str()));
  m.far_ifindex_ = static_cast<int>(::if_nametoindex(opts.far_name.c_str()));
  if (m.near_ifindex_ == 0 || m.far_ifindex_ == 0) return Error::from_errno("if_nametoindex", opts.near_name);
  if (auto r = disable_ipv6(*nl, m.near_ifindex_, opts.near_name, opts.ipv6_off_by_netlink); !r)
    return std::move(r).take_error();
  if (auto r = disable_ipv6(*nl, m.far_ifindex_, opts.far_name, opts.ipv6_off_by_netlink); !r)
    return std::move(r).take_error();
  if (auto r = set_up(*nl, m.far_ifindex_, opts.far_name); !r) return std::move(r).take_error();
  if (auto r = set_up(*nl, m.near_ifindex_, opts.near_name); !r) return std::move(r).take_error();
  return m;
}

MirrorLink::MirrorLink(MirrorLink&& o) noexcept
    : opts_(std::move(o.opts_)),
      near_ifindex_(o.near_ifindex_),
      far_ifindex_(o.far_ifindex_),
      owned_(std::exchange(o.owned_, false)) {}

MirrorLink::~MirrorLink() {
  (void)remove();
}

bool MirrorLink::present() const {
  auto same = [](int ifindex, const std::string& want) {
    char name[IF_NAMESIZE] = {};
    return ifindex > 0 && ::if_indextoname(static_cast<unsigned>(ifindex), name) != nullptr && want == name;
  };
  return same(near_ifindex_, opts_.near_name) && same(far_ifindex_, opts_.far_name);
}

Result<void> MirrorLink::remove() {
  if (!owned_) return ok();
  owned_ = false;
  return remove_by_name(opts_.near_name);
}

Result<void> MirrorLink::remove_by_name(const std::string& name) {
  auto nl = Rtnetlink::open();
  if (!nl) return std::move(nl).take_error();
  return delete_link(*nl, name);
}

}  // namespace netring::datapath
