// SPDX-License-Identifier: GPL-2.0
/* The UDP workload's receiver for bench/pod_cost.sh (bench/pod_udp_sink.cpp
 * attaches it at the receiver pod's eth0 ingress, clsact): IPv4 UDP to
 * dport is counted and taken with TC_ACT_STOLEN, everything else passes.
 *
 * Stolen, not dropped: the kernel frees a stolen skb with consume_skb(),
 * as it does a packet a socket read, so the flood is not a drop storm and
 * skb:kfree_skb (netring's drop tracer) does not fire for each packet. A
 * DROP rule or TC_ACT_SHOT would free every packet with kfree_skb_reason().
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

volatile const __u16 dport = 9; /* host order; set before load */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} consumed SEC(".maps");

SEC("tc")
int udp_sink(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u32 zero = 0;
	__u64 *n;

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP || udp->dest != bpf_htons(dport))
		return TC_ACT_OK;
	n = bpf_map_lookup_elem(&consumed, &zero);
	if (n)
		*n += 1;
	return TC_ACT_STOLEN;
}
