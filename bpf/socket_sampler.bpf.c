// 1-in-N sampling socket filter (SO_ATTACH_BPF on an AF_PACKET socket).
//
// Used on the rung where netring captures directly on hooked interfaces with
// TPACKET_V3. Returning 0 drops the packet before it is copied into the
// ring, so a skipped packet costs a random number and a compare. The classic
// BPF twin (SKF_AD_RANDOM) in pkg/packet serves where no eBPF may be loaded.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// Set through the skeleton's rodata before load; the verifier then sees
// constants and prunes the unused branches.
volatile const __u32 sample_rate = 1;  // keep 1 in sample_rate; 0 keeps none
volatile const __u32 snap_len = 0;     // bytes to keep; 0 keeps the whole packet

SEC("socket")
int socket_sampler(struct __sk_buff *skb)
{
	if (sample_rate == 0)
		return 0;
	if (sample_rate > 1 && bpf_get_prandom_u32() % sample_rate != 0)
		return 0;
	return snap_len ? snap_len : skb->len;
}

char LICENSE[] SEC("license") = "GPL";
