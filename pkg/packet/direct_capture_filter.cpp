#include "pkg/packet/direct_capture_filter.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace netring::packet {
namespace {

// Classic BPF jumps carry 8-bit offsets; with hundreds of pod veths the
// targets are farther than that, so every test is "jeq #k, 0, 1; ja label"
// (ja has a 32-bit offset) and labels are resolved at the end.
class Assembler {
 public:
  int new_label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void bind(int label) { labels_[static_cast<std::size_t>(label)] = static_cast<int>(prog_.size()); }
  void stmt(std::uint16_t code, std::uint32_t k) { prog_.push_back(BPF_STMT(code, k)); }
  // An instruction whose jumps (if any) stay within a block emitted as is.
  void raw(const sock_filter& insn) { prog_.push_back(insn); }
  void ja(int label) {
    fixups_.emplace_back(prog_.size(), label);
    prog_.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));
  }
  // if (A == k) goto label
  void jeq(std::uint32_t k, int label) {
    prog_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1));
    ja(label);
  }
  // if (A != k) goto label
  void jne(std::uint32_t k, int label) {
    prog_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 1, 0));
    ja(label);
  }
  void load_ancillary(std::int32_t what) {
    stmt(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + what));
  }
  ClassicProgram finish() {
    for (auto [at, label] : fixups_)
      prog_[at].k = static_cast<std::uint32_t>(labels_[static_cast<std::size_t>(label)] - static_cast<int>(at) - 1);
    return std::move(prog_);
  }

 private:
  ClassicProgram prog_;
  std::vector<int> labels_;
  std::vector<std::pair<std::size_t, int>> fixups_;
};

constexpr std::uint32_t kIpv4Src = 14 + 12;
constexpr std::uint32_t kIpv6Src = 14 + 8;

}  // namespace

Result<ClassicProgram> direct_capture_filter(const DirectCaptureRule& rule, std::uint32_t rate,
                                             std::uint32_t snap_len) {
  Assembler a;
  const int drop = a.new_label(), sample = a.new_label(), phys = a.new_label(), virt = a.new_label();
  const int v4 = a.new_label(), v6 = a.new_label();

  a.load_ancillary(SKF_AD_IFINDEX);
  for (std::uint32_t i : rule.physical) a.jeq(i, phys);
  for (std::uint32_t i : rule.hooked)
    if (std::find(rule.physical.begin(), rule.physical.end(), i) == rule.physical.end()) a.jeq(i, virt);
  a.ja(drop);  // rule 1

  a.bind(virt);
  a.load_ancillary(SKF_AD_PKTTYPE);
  a.jeq(PACKET_OUTGOING, drop);  // rule 3
  a.ja(sample);                  // rule 2

  a.bind(phys);
  a.load_ancillary(SKF_AD_PKTTYPE);
  a.jne(PACKET_OUTGOING, sample);  // rule 2
  a.load_ancillary(SKF_AD_PROTOCOL);
  a.jeq(ETH_P_IP, v4);
  a.jeq(ETH_P_IPV6, v6);
  a.ja(drop);

  a.bind(v4);  // rule 4, IPv4
  a.stmt(BPF_LD | BPF_W | BPF_ABS, kIpv4Src);
  for (const in_addr& addr : rule.local_v4) a.jeq(ntohl(addr.s_addr), sample);
  a.ja(drop);

  a.bind(v6);  // rule 4, IPv6: four 32-bit words per address
  for (const in6_addr& addr : rule.local_v6) {
    const int next = a.new_label();
    for (std::uint32_t w = 0; w < 4; ++w) {
      std::uint32_t word;
      std::memcpy(&word, addr.s6_addr + 4 * w, 4);
      a.stmt(BPF_LD | BPF_W | BPF_ABS, kIpv6Src + 4 * w);
      a.jne(ntohl(word), next);
    }
    a.ja(sample);
    a.bind(next);
  }
  a.ja(drop);

  a.bind(sample);
  for (const sock_filter& insn : classic_sampler(rate, snap_len)) a.raw(insn);
  a.bind(drop);
  a.stmt(BPF_RET | BPF_K, 0);

  ClassicProgram prog = a.finish();
  if (prog.size() > BPF_MAXINSNS)
    return Error::invalid("direct capture filter", std::to_string(rule.hooked.size()) + " interfaces and " +
                                                       std::to_string(rule.local_v4.size() + rule.local_v6.size()) +
                                                       " addresses need " + std::to_string(prog.size()) +
                                                       " classic BPF instructions (max " +
                                                       std::to_string(BPF_MAXINSNS) + ")");
  return prog;
}

}  // namespace netring::packet
