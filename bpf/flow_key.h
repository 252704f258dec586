/* The flow key and the exact per-flow counters the sampler keeps in the
 * kernel: the contract between bpf/sampler.bpf.c and user space.
 *
 * Plain C (UAPI types only), included by the BPF programs and by the C++
 * library. struct netring_flow_key has exactly the layout of
 * netring::flow::FlowKey (pkg/flow/key.hpp; static_asserts there), so a key
 * read from the kernel map is a FlowKey byte for byte and a sample's key
 * and the kernel's key of the same packet compare equal:
 *
 *   off size field
 *     0  16  src        IPv6, or IPv4-mapped (::ffff:a.b.c.d)
 *    16  16  dst
 *    32   2  src_port   host order; 0 for ICMP and protocols without ports
 *    34   2  dst_port   host order; ICMP/ICMPv6: type << 8 | code
 *    36   4  vni        24-bit VXLAN/Geneve VNI of the outer header, 0 untunnelled
 *    40   1  protocol   IANA protocol of the innermost L4 header
 *    41   1  family     4 or 6
 *    42   1  tunnel     0 none, 1 VXLAN, 2 Geneve
 *    43   5  reserved   0
 */
#ifndef NETRING_BPF_FLOW_KEY_H
#define NETRING_BPF_FLOW_KEY_H

#include <linux/types.h>

struct netring_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__u16 src_port;
	__u16 dst_port;
	__u32 vni;
	__u8 protocol;
	__u8 family;
	__u8 tunnel;
	__u8 reserved0;
	__u32 reserved1;
};

#define NETRING_TUNNEL_NONE 0
#define NETRING_TUNNEL_VXLAN 1
#define NETRING_TUNNEL_GENEVE 2

/* Value of the flow map: what every packet of the flow added during one
 * drain period. The map is shared by all CPUs (a per-CPU hash would cost
 * max_entries * value * CPUs of kernel memory: gigabytes on a large node),
 * so the sums are atomic adds; first_ns, last_ns, ifindex and direction are
 * plain stores (any recent value is right). */
struct netring_flow_counts {
	__u64 packets;    /* wire packets: sum of max(1, gso_segs) */
	__u64 bytes;      /* L3 bytes: IP total length (the inner packet's when decapsulated) */
	__u64 wire_bytes; /* what the wire carries: skb->len + (segs - 1) * header length */
	__u64 first_ns;   /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the period's first packet */
	__u64 last_ns;    /* ... and of its latest */
	/* TCP flags seen: byte i is 1 once flag bit i (FIN = 0 ... CWR = 7) was
	 * on a packet. A byte per flag, because storing 1 is idempotent: CPUs
	 * racing on the same flow cannot lose a flag, with no atomic OR (which
	 * needs BPF ISA v3, whose 32-bit jumps the verifier refuses on packet
	 * pointers without CAP_PERFMON). */
	__u8 tcp_flag_seen[8];
	__u32 ifindex;    /* the counting hook's interface (latest) */
	__u32 direction;  /* NETRING_DIR_* of that hook */
	__u32 max_seg;    /* largest L3 bytes per segment (bytes / segs of one skb) */
	__u32 skbs;       /* skbs: a GSO super-packet is one (conntrack's packet); packets counts its segments */
};

/* Mode of exact counting (settings.exact_mode). */
#define NETRING_EXACT_OFF 0  /* no flow map: flows are estimated from samples */
#define NETRING_EXACT_BULK 1 /* skbs of more than one segment (GSO/GRO) are counted */
#define NETRING_EXACT_ALL 2  /* every skb is counted */

/* Flags of the sampler's tunnel_ports map value (key: UDP destination port). */
#define NETRING_PORT_SKIP_EGRESS (1U << 0) /* an encapsulation not counted leaving a NIC */
#define NETRING_PORT_VXLAN (1U << 1)       /* decapsulated as VXLAN */
#define NETRING_PORT_GENEVE (1U << 2)      /* decapsulated as Geneve */

/* Which worker (mirror queue) a flow's samples go to is a function of the
 * key alone, computed the same way by the sampler (netring_flow_key_hash in
 * bpf/flow_parse.h) and by user space for the exact counts it reads
 * (pkg/kflow/flow_hash.hpp), so each flow lives in exactly one worker's
 * table: FNV-1a over the key's twelve 32-bit words (native order), then
 * h ^ (h >> 16). */
#define NETRING_FNV_OFFSET 2166136261u
#define NETRING_FNV_PRIME 16777619u

#ifdef __cplusplus
static_assert(sizeof(struct netring_flow_key) == 48, "flow key layout is shared with user space");
static_assert(sizeof(struct netring_flow_counts) == 64, "flow counts layout");
#else
_Static_assert(sizeof(struct netring_flow_key) == 48, "flow key layout is shared with user space");
_Static_assert(sizeof(struct netring_flow_counts) == 64, "flow counts layout");
#endif

#endif /* NETRING_BPF_FLOW_KEY_H */
