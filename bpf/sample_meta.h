/* The contract between the sampler, the mirror program and user space.
 *
 * Plain C (UAPI types only) so that the BPF programs and the C++ library
 * include the same definitions.
 *
 * 1. sampler -> mirror, in the clone's skb->mark, skb->priority and skb->cb
 *
 *    The sampler never writes the original packet's bytes (a direct store
 *    makes the verifier add an unclone prologue to every invocation, which
 *    drops the packet when uncloning fails). It sets mark, priority and
 *    cb[0..2] on the original, calls bpf_clone_redirect (skb_clone copies all
 *    three into the clone) and restores them right after, before anything
 *    else can see them.
 *
 *      skb->mark      bits 31..28  NETRING_MARK_TAG (0xA): a clone from the sampler
 *                     bit  27      direction: 0 ingress, 1 egress
 *                     bits 26..24  reserved, 0
 *                     bits 23..0   source ifindex (the sampler clones nothing
 *                                  from an interface whose ifindex needs more)
 *      skb->priority  the sequence number of the clone attempt, per CPU and queue
 *      skb->cb[0]     NETRING_CB_MAGIC: cb[1] and cb[2] are valid
 *      skb->cb[1]     N: the rate the sampler decided with
 *      skb->cb[2]     bits 15..0 the mirror queue (capture worker) the flow
 *                     belongs to; bits 31..16 NETRING_SAMPLE_F_* flags
 *
 *    cb[] is the qdisc layer's scratch area for BPF programs
 *    (qdisc_skb_cb.data): nothing between bpf_clone_redirect and the mirror's
 *    egress hook writes it, and the sampler puts the original's values back.
 *    Everything else the header needs comes from the clone itself (skb_clone
 *    shares skb_shinfo, so len and gso_segs are the original's) or from the
 *    CPU: bpf_clone_redirect to a device's egress runs dev_queue_xmit and
 *    therefore the mirror's egress hook synchronously, on the sampler's CPU,
 *    with bottom halves disabled. A mirror program that finds no magic in
 *    cb[0] falls back to the rate in the config map, the CPU's queue and no
 *    flags.
 *
 * 2. mirror -> user space: the frame on the mirror's far end is
 *
 *      struct netring_sample_hdr (56 bytes) | the original frame, from its
 *      Ethernet header, truncated to the snap length (by the mirror program
 *      for AF_XDP; on the TPACKET_V3 rung the frame on the wire is the whole
 *      clone and the reader's socket filter keeps header + snap length)
 *
 *    The header starts with an Ethernet header of its own (locally
 *    administered addresses, EtherType 0x88B5 "local experimental") so the
 *    far end's stack classifies the frame as PACKET_OTHERHOST of an unknown
 *    protocol and ignores it, and tcpdump shows it for what it is.
 *
 *    Byte layout (all fields after eth_proto in host byte order: the header
 *    never leaves the node):
 *
 *      off size field
 *        0   6  eth_dst       NETRING_SAMPLE_DST_MAC
 *        6   6  eth_src       NETRING_SAMPLE_SRC_MAC
 *       12   2  eth_proto     0x88B5, big endian
 *       14   2  magic         NETRING_SAMPLE_MAGIC ("NR" read as little endian)
 *       16   1  version       NETRING_SAMPLE_VERSION
 *       17   1  hdr_len       sizeof(struct netring_sample_hdr); frame data follows
 *       18   1  direction     NETRING_DIR_INGRESS / NETRING_DIR_EGRESS
 *       19   1  flags         NETRING_SAMPLE_F_*
 *       20   4  ifindex       interface the original passed
 *       24   4  rate          N the sampler used (config at the time of the mirror pass)
 *       28   4  orig_len      skb->len of the original (L2 header included)
 *       32   2  cpu           CPU that sampled it
 *       34   2  queue         mirror queue = capture worker (the flow's, see flow_key.h)
 *       36   4  seq           sequence number per (cpu, queue) (gaps = lost samples)
 *       40   2  gso_segs      max(1, gso_segs) of the original: wire packets
 *       42   2  snap_len      snap length the mirror applied (0: none)
 *       44   2  vlan_tci      hardware-accelerated VLAN tag of the original, if
 *                                NETRING_SAMPLE_F_VLAN (the tag is skb metadata, not
 *                                frame bytes, and does not survive to the far end)
 *       46   2  vlan_proto    its TPID (0x8100 / 0x88a8), host order
 *       48   8  tstamp_ns     bpf_ktime_get_ns() (CLOCK_MONOTONIC) at the mirror
 *
 *    A forced copy (NETRING_SAMPLE_F_FORCED: DNS, TCP control packets, see
 *    NETRING_SET_F_COPY_*) was taken with p = 1 whatever the rate: rate is 1
 *    in its header (skb->cb[1] = 1), so its weight is 1 and the estimator
 *    stays unbiased.
 *
 *    A sample of a packet the kernel counted exactly in its flow map
 *    (NETRING_SAMPLE_F_COUNTED) was picked with p = min(1, 1 / rate) and
 *    stands for no estimate: its flow's bytes and packets are the kernel's.
 *    Any other sample was picked with p = min(1, gso_segs / rate); weight 1/p
 *    (skbs the sample stands for) = max(1, rate / gso_segs), computed by user
 *    space (floating point); wire packets it stands for = gso_segs / p =
 *    max(rate, gso_segs).
 */
#ifndef NETRING_BPF_SAMPLE_META_H
#define NETRING_BPF_SAMPLE_META_H

#include <linux/types.h>

#define NETRING_SAMPLE_MAGIC 0x524e /* bytes 'N' 'R' */
#define NETRING_SAMPLE_VERSION 2
#define NETRING_SAMPLE_ETH_P 0x88B5

#define NETRING_SAMPLE_DST_MAC {0x06, 0x6e, 0x72, 0x00, 0x00, 0x01}
#define NETRING_SAMPLE_SRC_MAC {0x06, 0x6e, 0x72, 0x00, 0x00, 0x02}

#define NETRING_DIR_INGRESS 0
#define NETRING_DIR_EGRESS 1

#define NETRING_SAMPLE_F_TRUNCATED (1U << 0) /* orig_len > captured frame */
#define NETRING_SAMPLE_F_VLAN (1U << 1)      /* vlan_tci/vlan_proto are valid */
#define NETRING_SAMPLE_F_COUNTED (1U << 2)   /* the packet is in the kernel's exact flow counts */
#define NETRING_SAMPLE_F_FORCED (1U << 3)    /* always copied (DNS, TCP control): p = 1, rate 1 */

#define NETRING_CB_MAGIC 0x4e524342U /* "NRCB" */
#define NETRING_CB_QUEUE_MASK 0xffffU
#define NETRING_CB_FLAGS_SHIFT 16

#define NETRING_MARK_TAG 0xAU
#define NETRING_MARK_TAG_SHIFT 28
#define NETRING_MARK_DIR_BIT (1U << 27)
#define NETRING_MARK_IFINDEX_MASK 0x00ffffffU

struct netring_sample_hdr {
	__u8 eth_dst[6];
	__u8 eth_src[6];
	__be16 eth_proto;
	__u16 magic;
	__u8 version;
	__u8 hdr_len;
	__u8 direction;
	__u8 flags;
	__u32 ifindex;
	__u32 rate;
	__u32 orig_len;
	__u16 cpu;
	__u16 queue;
	__u32 seq;
	__u16 gso_segs;
	__u16 snap_len;
	__u16 vlan_tci;
	__u16 vlan_proto;
	__u64 tstamp_ns;
} __attribute__((packed, aligned(4)));

/* ---- maps shared by sampler, mirror and user space ---- */

enum netring_role {
	NETRING_ROLE_POD = 0,      /* a pod's host-side veth */
	NETRING_ROLE_PHYSICAL = 1, /* a NIC: tunnel encapsulations leaving it are skipped */
};

/* config map value, keyed by ifindex (__u32); config_direct holds the same
 * at index ifindex for ifindex < NETRING_CONFIG_DIRECT, with present = 1. */
struct netring_if_config {
	__u32 rate; /* N: sample with p = min(1, gso_segs / N); 0 = count only */
	__u32 role; /* enum netring_role */
	__u32 slot; /* the interface's counters: if_counters[slot * 2 + direction] */
	__u32 present; /* config_direct: 1 for a hooked interface, 0 for a free index */
};

/* Interface indexes the sampler finds its config by array index (an
 * inlined load) instead of a hash lookup (a call, and a hash, per packet);
 * larger ones, which a host reaches after long pod churn since indexes are
 * not reused at once, still have the hash map. 16 bytes each: 256 KiB. */
#define NETRING_CONFIG_DIRECT 16384

/* Interfaces whose counters can be kept at once (slots, user space assigns). */
#define NETRING_MAX_INTERFACES 4096
/* Mirror queues (capture workers) the sequence numbers are kept for. */
#define NETRING_MAX_QUEUES 64

/* settings map: one entry (key 0). */
struct netring_settings {
	__u32 mirror_ifindex;  /* 0: never clone */
	__u32 flags;           /* NETRING_SET_F_* */
	__u64 heartbeat_timeout_ns;
	__u32 exact_mode;      /* NETRING_EXACT_* (flow_key.h) */
	__u32 mirror_queues;   /* queues of the mirror link, 1..NETRING_MAX_QUEUES */
	/* The DNS ports (NETRING_SET_F_COPY_DNS), compared in place: the
	 * dns_ports map is an array of 64 Ki entries, and indexing it by both
	 * ports of every packet (10k flows' source ports) misses the cache.
	 * dns_port_count > NETRING_DNS_PORTS_INLINE: the map is looked up. */
	__u16 dns_port[4];
	__u32 dns_port_count;
	/* Copies drawn per second per CPU beyond which the CPU's rate is
	 * scaled up (struct netring_copy_scale); 0 = never. */
	__u32 copy_budget;
};

#define NETRING_DNS_PORTS_INLINE 4

#define NETRING_SET_F_SKIP_IPIP (1U << 0)  /* IPv4-in-IP (proto 4) */
#define NETRING_SET_F_SKIP_IP6IP (1U << 1) /* IPv6-in-IP (proto 41) */
/* Always copied, whatever the rate (p = 1: the copy carries rate 1 and the
 * NETRING_SAMPLE_F_FORCED flag): every TCP or UDP packet from or to a port
 * of the dns_ports map, ... */
#define NETRING_SET_F_COPY_DNS (1U << 2)
/* ... and every TCP segment with SYN, FIN or RST, plus the first pure ACK
 * of a connection after its SYN-ACK (the handshake's third packet, found
 * through the handshakes map). */
#define NETRING_SET_F_COPY_TCP_CONTROL (1U << 3)
/* GSO clones reach user space apart from single frames (the AF_XDP rung
 * hands them to a TPACKET_V3 socket, see mirror.bpf.c): their sequence
 * numbers are kept apart too, at NETRING_MAX_QUEUES + queue, so that each
 * socket sees one gapless sequence per CPU. */
#define NETRING_SET_F_GSO_APART (1U << 4)

/* How long after a SYN-ACK its connection's ACK is looked for. */
#define NETRING_HANDSHAKE_WINDOW_NS 10000000000ULL

/* The handshakes map tells a connection's third packet from the pure ACKs
 * that follow it, but looking it up (a hash of a 48-byte key) for every
 * pure ACK of a node that set up a connection within the window (a busy
 * node always has) cost each such ACK a full parse and that lookup; the
 * data segments of a bulk sender, ACK without PSH, took the lookup too.
 * handshake_slots is its filter: an array of counters indexed by a hash of
 * the client end alone (address and port), which the peek reads without
 * building a key. A SYN-ACK adds one to its client end's slot, the ACK that
 * takes its handshakes entry takes one away; a pure ACK whose slot is at
 * zero, or whose slot saw no SYN-ACK within the window, is no handshake's
 * and skips the map. Ends that share a slot only make it answer "maybe"
 * (the map then decides), so no handshake is missed; a handshake that
 * never completes holds its slot at "maybe" until the window passes. */
#define NETRING_HANDSHAKE_SLOT_BITS 14
#define NETRING_HANDSHAKE_SLOTS (1U << NETRING_HANDSHAKE_SLOT_BITS)

struct netring_handshake_slot {
	__u64 last_ns;  /* bpf_ktime_get_ns() of the latest SYN-ACK to an end of this slot */
	__u32 pending;  /* SYN-ACKs since the slot was last idle, less the ACKs matched */
	__u32 reserved;
};

/* The slot of a client end: `fold` is its IPv4 address as it lies in the
 * packet, or the XOR of its IPv6 address's four 32-bit words (native
 * order); `port` in host order. Fibonacci hashing: the top bits of a
 * multiply. */
static inline __u32 netring_handshake_slot_of(__u32 fold, __u16 port)
{
	return ((fold ^ ((__u32)port << 16 | port)) * 0x9E3779B1u) >> (32 - NETRING_HANDSHAKE_SLOT_BITS);
}

/* if_counters value (per CPU), at slot * 2 + direction. bytes sums
 * skb->len (one L2+L3+L4 header per skb, as /sys/class/net/<dev>/statistics
 * counts on veth); segs sums max(1, gso_segs), the packets on the wire,
 * while skbs counts one per skb like rx_packets / tx_packets of a veth. A
 * GSO skb of 45 segments is 1 skb and 45 segs. wire_bytes adds the headers
 * each segment repeats: skb->len + (segs - 1) * header length, what a NIC
 * that segments it counts in tx_bytes (gso_unparsed counts the GSO skbs
 * whose headers could not be read: bytes stand in for their wire bytes). */
struct netring_if_counters {
	__u64 skbs;
	__u64 segs;
	__u64 bytes;
	__u64 wire_bytes;
	__u64 gso_unparsed;
};

/* The copy budget's state, one per CPU (the sampler's copy_scale map).
 *
 * Every drawn copy costs the same (a clone, the mirror's veth, a copy into
 * the capture ring, the agent's parse) whatever it tells, so under load a
 * fixed 1:N costs in proportion to the packet rate. With a budget B
 * (settings.copy_budget) a CPU draws at N * scale instead of N, scale
 * following its own copy rate: at the end of a window of at least
 * NETRING_COPY_WINDOW_NS (looked at on the next drawn copy, so an idle CPU
 * costs nothing), copies per second r above B or below B / 2 set scale to
 * max(1, ceil(scale * r / (3B / 4))): the next window's at about 3B / 4. A
 * CPU's draws then stay between B / 2 and B a second under any load, and
 * fall back to 1:N when it ebbs. The rate a packet was drawn at is fixed
 * before its draw (by the copies before it, never by itself) and travels in
 * its sample (skb->cb[1]), so the estimates' weights 1/p stay exact and the
 * Horvitz-Thompson sums unbiased. Always-copied packets (p = 1) and
 * interfaces at 1:1 (every packet asked for) are neither scaled nor
 * counted here. */
struct netring_copy_scale {
	__u64 window_start_ns; /* bpf_ktime_get_coarse_ns() at the window's start */
	__u32 copies;          /* drawn copies in the window */
	__u32 scale;           /* 0 or 1: unscaled */
	__u64 raises;          /* windows that ended with scale raised */
};

#define NETRING_COPY_WINDOW_NS 100000000ULL
/* Bounds that keep the arithmetic in 64 bits: scale, the copies per second
 * it is computed from, and the drawn rate N * scale (the draw takes a __u32). */
#define NETRING_COPY_SCALE_MAX (1U << 24)
#define NETRING_COPY_RATE_MAX (1U << 30)

/* Per-CPU stage counters of the sampler (stats map index). */
enum netring_sampler_stat {
	NETRING_ST_SEQ = 0,           /* unused (sequence numbers: the seqs map) */
	NETRING_ST_CLONE_ATTEMPTS,    /* bpf_clone_redirect calls */
	NETRING_ST_CLONE_FAILURES,    /* ... that failed other than ENOMEM */
	NETRING_ST_HEARTBEAT_STALE,   /* chosen, but not cloned: agent heartbeat stale */
	NETRING_ST_SKIP_FORWARDED,    /* egress, ingress_ifindex != 0: sampled on ingress */
	NETRING_ST_SKIP_TUNNEL,       /* egress encapsulation on a physical interface */
	NETRING_ST_SKIP_IFINDEX,      /* ifindex does not fit the mark */
	NETRING_ST_NO_CONFIG,         /* interface without a config entry */
	NETRING_ST_CLONE_NOMEM,       /* bpf_clone_redirect: -ENOMEM (skb_clone, or making
				       * the original's head writable: a pskb_expand_head copy) */
	NETRING_ST_FLOW_COUNTED,      /* skbs counted in the exact flow map */
	NETRING_ST_FLOW_MAP_FULL,     /* skbs not counted: the flow map was full */
	NETRING_ST_FLOW_DECLINED,     /* skbs not counted: fragments, extension headers */
	NETRING_ST_FLOW_MALFORMED,    /* skbs not counted: headers user space would reject */
	NETRING_ST_FLOW_NO_MAP,       /* skbs not counted: no flow map installed */
	NETRING_ST_FORCED,            /* copies forced (DNS, TCP control), p = 1: clone attempts among them */
	NETRING_ST_SCALED,            /* copies drawn at a rate the copy budget scaled up */
	NETRING_ST__MAX,
};

/* Per-CPU stage counters of the mirror program. */
enum netring_mirror_stat {
	NETRING_MST_PASSES = 0,      /* clones stamped and passed on */
	NETRING_MST_FOREIGN,         /* not a sampler clone (mark tag missing): dropped */
	NETRING_MST_TRIM_ERRORS,     /* bpf_skb_change_tail failed */
	NETRING_MST_HEAD_ERRORS,     /* bpf_skb_change_head / store failed */
	NETRING_MST_GSO_APART,       /* GSO clones among the passes, sent to the far end's socket */
	NETRING_MST__MAX,
};

#ifdef __cplusplus
static_assert(sizeof(struct netring_sample_hdr) == 56, "sample header layout is ABI");
static_assert(__builtin_offsetof(struct netring_sample_hdr, magic) == 14, "magic offset");
static_assert(__builtin_offsetof(struct netring_sample_hdr, ifindex) == 20, "ifindex offset");
static_assert(__builtin_offsetof(struct netring_sample_hdr, seq) == 36, "seq offset");
static_assert(__builtin_offsetof(struct netring_sample_hdr, vlan_tci) == 44, "vlan offset");
static_assert(__builtin_offsetof(struct netring_sample_hdr, tstamp_ns) == 48, "tstamp offset");
static_assert(__builtin_offsetof(struct netring_sample_hdr, queue) == 34, "queue offset");
static_assert(sizeof(struct netring_settings) == 40, "settings layout");
static_assert(sizeof(struct netring_if_counters) == 40, "counters layout");
static_assert(sizeof(struct netring_if_config) == 16, "config layout");
static_assert(sizeof(struct netring_copy_scale) == 24, "copy scale layout");
static_assert(sizeof(struct netring_handshake_slot) == 16, "handshake slot layout");
#else
_Static_assert(sizeof(struct netring_sample_hdr) == 56, "sample header layout is ABI");
#endif

#endif /* NETRING_BPF_SAMPLE_META_H */
