/* UAPI definitions newer than Debian 12's linux-libc-dev (6.1).
 *
 * The binary is built against 6.1 headers but must run on kernels from 5.15
 * to 6.18, so everything here is only a *name* for a value the kernel ABI
 * fixed; whether the running kernel understands it is probed at run time.
 * Plain C so that both C++ and BPF C can include it. Every value was checked
 * against the running kernel's BTF (bpftool btf dump file
 * /sys/kernel/btf/vmlinux) or the upstream UAPI header it comes from.
 */
#ifndef NETRING_COMPAT_UAPI_H
#define NETRING_COMPAT_UAPI_H

#include <linux/types.h>

/* ---- linux/if_xdp.h ---- */

/* sxdp_flags: multi-buffer RX/TX (6.6). */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
/* xdp_desc.options: the packet continues in the next descriptor (6.6). */
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif
/* xdp_desc.options: TX metadata precedes the frame (6.8). */
#ifndef XDP_TX_METADATA
#define XDP_TX_METADATA (1 << 1)
#endif
/* xdp_umem_reg.flags (6.8 / 6.11). */
#ifndef XDP_UMEM_TX_SW_CSUM
#define XDP_UMEM_TX_SW_CSUM (1 << 1)
#endif
#ifndef XDP_UMEM_TX_METADATA_LEN
#define XDP_UMEM_TX_METADATA_LEN (1 << 2)
#endif

/* ---- linux/bpf.h: tcx (6.6) ---- */

#define NETRING_BPF_TCX_INGRESS 46 /* enum bpf_attach_type */
#define NETRING_BPF_TCX_EGRESS 47
#define NETRING_BPF_LINK_TYPE_TCX 11 /* enum bpf_link_type */

#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#endif
#ifndef BPF_F_AFTER
#define BPF_F_AFTER (1U << 4)
#endif
#ifndef BPF_F_ID
#define BPF_F_ID (1U << 5)
#endif
#ifndef BPF_F_LINK
#define BPF_F_LINK (1U << 13)
#endif

/* enum tcx_action_base: TCX_NEXT lets the rest of the chain run; it has the
 * same value as TC_ACT_UNSPEC, which is what a classic clsact filter returns
 * to the same effect, so one program serves both attach points. */
#define NETRING_TCX_NEXT (-1)
#define NETRING_TCX_PASS 0
#define NETRING_TCX_DROP 2
#define NETRING_TCX_REDIRECT 7

/* union bpf_attr.query as of 6.6 (link_ids and revision are new): the tcx
 * order check needs the link ids, which Debian's 6.1 header and libbpf 1.1's
 * bpf_prog_query_opts do not have. Passed to bpf(BPF_PROG_QUERY) with its own
 * size; older kernels reject the unknown tail only if it is non-zero. */
struct netring_bpf_query_attr {
	__u32 target_ifindex;
	__u32 attach_type;
	__u32 query_flags;
	__u32 attach_flags;
	__aligned_u64 prog_ids;
	__u32 count;
	__u32 pad;
	__aligned_u64 prog_attach_flags;
	__aligned_u64 link_ids;
	__aligned_u64 link_attach_flags;
	__u64 revision;
};
#ifdef __cplusplus
static_assert(sizeof(struct netring_bpf_query_attr) == 64, "bpf_attr.query layout (6.6)");
#endif

/* ---- linux/netdev.h (6.3): XDP features over generic netlink ---- */

#define NETRING_NETDEV_FAMILY_NAME "netdev"
#define NETRING_NETDEV_CMD_DEV_GET 1
#define NETRING_NETDEV_A_DEV_IFINDEX 1
#define NETRING_NETDEV_A_DEV_XDP_FEATURES 3
#define NETRING_NETDEV_A_DEV_XDP_ZC_MAX_SEGS 4

#define NETRING_NETDEV_XDP_ACT_BASIC (1U << 0)
#define NETRING_NETDEV_XDP_ACT_REDIRECT (1U << 1)
#define NETRING_NETDEV_XDP_ACT_NDO_XMIT (1U << 2)
#define NETRING_NETDEV_XDP_ACT_XSK_ZEROCOPY (1U << 3)
#define NETRING_NETDEV_XDP_ACT_HW_OFFLOAD (1U << 4)
#define NETRING_NETDEV_XDP_ACT_RX_SG (1U << 5)
#define NETRING_NETDEV_XDP_ACT_NDO_XMIT_SG (1U << 6)

#endif /* NETRING_COMPAT_UAPI_H */
