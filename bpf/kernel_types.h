/* The few kernel structures the tracing programs read, declared with only
 * the members they use and marked preserve_access_index: clang records each
 * member access as a CO-RE relocation by name, and libbpf rewrites its
 * offset from the running kernel's BTF at load time. So the programs need
 * no vmlinux.h of the build machine's kernel and read the right offsets on
 * every kernel with BTF (Debian 12's 6.1 as well as 6.18; members inside
 * anonymous unions and struct_group()s are found by name too). A kernel
 * without BTF cannot load them: pkg/kevents reports that and goes on
 * without kernel events.
 *
 * Reads go through bpf_probe_read_kernel (BPF_CORE_READ): raw tracepoint
 * arguments are untyped pointers.
 */
#ifndef NETRING_BPF_KERNEL_TYPES_H
#define NETRING_BPF_KERNEL_TYPES_H

#include <linux/types.h>

#define NETRING_CORE __attribute__((preserve_access_index))

struct ns_common {
	unsigned int inum;
} NETRING_CORE;

struct net {
	struct ns_common ns;
} NETRING_CORE;

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
} NETRING_CORE;

struct sk_buff {
	unsigned int len;
	__u16 protocol; /* __be16 */
	__u16 transport_header;
	__u16 network_header;
	unsigned char *head;
	unsigned char *data;
	struct net_device *dev;
	char cb[48];
} NETRING_CORE;

/* TCP's control block in skb->cb. */
struct tcp_skb_cb {
	__u32 seq;
	__u32 end_seq;
	__u16 tcp_gso_segs;
} NETRING_CORE;

/* Read whole (16 bytes at the member's relocated offset). The ___netring
 * suffix is a CO-RE flavour: libbpf matches it to the kernel's in6_addr
 * while it does not clash with the UAPI one of linux/in6.h. */
struct in6_addr___netring {
	__u8 bytes[16];
};

struct sock_common {
	__u32 skc_daddr;     /* __be32 */
	__u32 skc_rcv_saddr; /* __be32 */
	__u16 skc_dport;     /* __be16 */
	__u16 skc_num;       /* host order */
	unsigned short skc_family;
	struct in6_addr___netring skc_v6_daddr;
	struct in6_addr___netring skc_v6_rcv_saddr;
} NETRING_CORE;

struct sock {
	struct sock_common __sk_common;
} NETRING_CORE;

struct tcp_sock {
	__u32 srtt_us; /* smoothed RTT << 3, in microseconds */
} NETRING_CORE;

#endif /* NETRING_BPF_KERNEL_TYPES_H */
