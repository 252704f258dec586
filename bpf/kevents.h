/* Kernel events: the contract between bpf/drops.bpf.c,
 * bpf/tcp_retrans.bpf.c and user space (pkg/kevents).
 *
 * Plain C (UAPI types only), included by the BPF programs and by the C++
 * library. Both programs count in the kernel, into two hash maps that take
 * turns behind an ARRAY_OF_MAPS slot exactly like the sampler's flow maps
 * (bpf/sampler.bpf.c): user space swaps in the idle map (the map-in-map
 * update returns after an RCU grace period, when no program run can still
 * add to the old one) and empties the old one, so every event is read once.
 */
#ifndef NETRING_BPF_KEVENTS_H
#define NETRING_BPF_KEVENTS_H

#include <linux/types.h>

#include "bpf/flow_key.h"

/* ---- packet drops (raw tracepoint skb:kfree_skb) ---- */

/* Key of the drop map: the dropped packet's flow (all zero, family 0, when
 * the packet has no IPv4/IPv6 header the program could read) and the
 * kernel's drop reason (enum skb_drop_reason: its numbering differs between
 * kernels, user space names it from the kernel's BTF). */
struct netring_drop_key {
	struct netring_flow_key flow;
	__u32 reason;
	__u32 reserved;
};

struct netring_drop_counts {
	__u64 packets;  /* skbs freed as dropped (a GSO skb is one, as in iptables' counters) */
	__u64 bytes;    /* L3 bytes: skb->len measured from the network header */
	__u64 first_ns; /* bpf_ktime_get_ns() of the period's first drop */
	__u64 last_ns;  /* ... and of its latest */
	__u32 ifindex;  /* skb->dev at the latest drop (0: none) */
	__u32 estimated; /* 1: part of the counts stands for drops a storm left unattributed (drops.bpf.c) */
};

/* One drop in detail, through the ring buffer; rate-limited per CPU
 * (drops.bpf.c: events_per_sec). */
struct netring_drop_event {
	struct netring_flow_key flow;
	__u64 ts_ns;    /* bpf_ktime_get_ns() */
	__u64 location; /* kernel address that freed the skb (the tracepoint's location) */
	__u32 reason;
	__u32 ifindex;
	__u32 bytes;
	__u32 reserved;
};

/* Per-CPU counters of the drop program (netring_drop_cpu.stats index). */
#define NETRING_DROP_STAT_SEEN 0       /* kfree_skb events */
#define NETRING_DROP_STAT_NOT_DROP 1   /* reason SKB_NOT_DROPPED_YET / SKB_CONSUMED: not counted */
#define NETRING_DROP_STAT_COUNTED 2    /* drops counted (by reason in netring_drop_cpu.reasons) */
#define NETRING_DROP_STAT_UNPARSED 3   /* ... of which without an IP header to key by */
#define NETRING_DROP_STAT_MAP_FULL 4   /* ... not in the drop map (full): in the reason totals only */
#define NETRING_DROP_STAT_NO_MAP 5     /* ... no map in the slot (never expected) */
#define NETRING_DROP_STAT_EVENTS 6     /* details sent through the ring buffer */
#define NETRING_DROP_STAT_SUPPRESSED 7 /* details not sent: over the rate limit */
#define NETRING_DROP_STAT_EVENT_LOST 8 /* details not sent: ring buffer full */
#define NETRING_DROP_STAT_IGNORED 9    /* on the agent's own mirror link: not counted */
#define NETRING_DROP_STAT_STORM_SKIPPED 10 /* counted by reason only: a storm's unsampled drops */
#define NETRING_DROP_STAT_MAX 11

/* Reasons at or above this share the last slot of netring_drop_cpu.reasons
 * (exact per reason for every reason of the core enum, about 130 on 6.18). */
#define NETRING_DROP_REASON_SLOTS 512

/* Everything the drop program keeps per CPU, in the one entry of a
 * PERCPU_ARRAY: a drop costs one map lookup, not one per counter it bumps
 * (before 6.10 the kernel does not inline a PERCPU_ARRAY lookup: each is a
 * helper call, and in a drop storm there are no other costs to hide them).
 * User space reads the whole entry, every CPU's copy, in one syscall. */
struct netring_drop_cpu {
	__u64 window_start_ns; /* the rate limit's current second: */
	__u64 window_sent;     /* detailed events sent in it */
	__u64 window_drops;    /* drops counted in it */
	__u64 jiffies;         /* the clock read at the latest jiffy (drops.bpf.c: tick_clock) */
	__u64 clock_ns;
	__u64 rng;      /* storm_weight's draw state (bpf/draw.h) */
	__u64 full_gen; /* map_gen + 1 once the drop map in the slot was full */
	__u64 one_in;   /* a storm's odds in the current second (drops.bpf.c: roll_window; 0: storm_one_in) */
	__u64 stats[NETRING_DROP_STAT_MAX];
	__u64 reasons[NETRING_DROP_REASON_SLOTS]; /* drops by reason since load: cumulative, never drained */
};

/* Interfaces whose drops are the agent's own business (its mirror link):
 * ifindex and network namespace inode, set before load. */
#define NETRING_DROP_IGNORE_MAX 4


/* ---- TCP retransmissions (raw tracepoint tcp:tcp_retransmit_skb) ---- */

/* Key: the flow of the retransmitted segment (local -> remote, as the
 * sampler keys the same packet). */
struct netring_retrans_counts {
	__u64 segments; /* tcp_skb_pcount of each retransmitted skb: the unit of TcpRetransSegs */
	__u64 skbs;     /* tracepoint hits */
	__u64 last_ns;  /* bpf_ktime_get_ns() of the latest */
	__u32 srtt_us;  /* the socket's smoothed RTT at the latest (tcp_sock.srtt_us >> 3) */
	__u32 reserved;
};

#define NETRING_RETRANS_STAT_SEEN 0     /* tracepoint hits */
#define NETRING_RETRANS_STAT_SEGMENTS 1 /* segments over all flows */
#define NETRING_RETRANS_STAT_MAP_FULL 2 /* hits not in the map (full) */
#define NETRING_RETRANS_STAT_NO_MAP 3
#define NETRING_RETRANS_STAT_UNKEYED 4 /* socket of another family: counted in SEGMENTS only */
#define NETRING_RETRANS_STAT_NOT_SENT 5 /* 6.13+: attempts given up before TcpRetransSegs (not counted) */
#define NETRING_RETRANS_STAT_MAP_BUSY 6 /* hits not in the map: its bucket lock gave up */
#define NETRING_RETRANS_STAT_MAX 7

#ifdef __cplusplus
static_assert(sizeof(struct netring_drop_key) == 56, "drop key layout");
static_assert(sizeof(struct netring_drop_counts) == 40, "drop counts layout");
static_assert(sizeof(struct netring_drop_event) == 80, "drop event layout");
static_assert(sizeof(struct netring_retrans_counts) == 32, "retrans counts layout");
static_assert(sizeof(struct netring_drop_cpu) == 8 * (8 + NETRING_DROP_STAT_MAX + NETRING_DROP_REASON_SLOTS),
              "drop per-CPU layout");
#else
_Static_assert(sizeof(struct netring_drop_key) == 56, "drop key layout");
_Static_assert(sizeof(struct netring_drop_counts) == 40, "drop counts layout");
_Static_assert(sizeof(struct netring_drop_event) == 80, "drop event layout");
_Static_assert(sizeof(struct netring_retrans_counts) == 32, "retrans counts layout");
_Static_assert(sizeof(struct netring_drop_cpu) == 8 * (8 + NETRING_DROP_STAT_MAX + NETRING_DROP_REASON_SLOTS),
               "drop per-CPU layout");
#endif

#endif /* NETRING_BPF_KEVENTS_H */
