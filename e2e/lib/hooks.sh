# Whether anything of the agent's is left attached: classic clsact filters
# and XDP on an interface (netlink, `tc`/`ip`), and BPF links (tcx among
# them) running one of the agent's programs. Debian's bpftool 7.1 predates
# tcx and cannot name a tcx link's interface, so links are compared by id
# against a snapshot taken before the agent started. Needs common.sh.

HOOK_PROGS='^(sampler_ingress|sampler_egress|mirror_egress|xsk_redirect)$'

# hooks_on IFACE: one line per classic TC filter or XDP program on IFACE (empty: none).
hooks_on() {
  local dev=$1 dir
  for dir in ingress egress; do
    tc filter show dev "$dev" "$dir" 2>/dev/null | grep -E ' bpf ' || true
  done
  ip -d link show dev "$dev" 2>/dev/null | grep -E 'prog/xdp|xdpgeneric|xdpdrv' || true
}

# links_of_pid PID: ids of the BPF links process PID holds open, one per
# line: a link fd's /proc/PID/fdinfo has a link_id line (Debian's bpftool
# 7.1 has no "pids" field to ask instead).
links_of_pid() {
  grep -h '^link_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un
}

# links_exist ID...: the ids among ID... that still exist, one per line.
links_exist() {
  local ids
  ids="$(bpftool -j link show 2>/dev/null | jq -r '.[].id')"
  for id in "$@"; do grep -qx "$id" <<<"$ids" && echo "$id"; done
  return 0
}

# agent_links: ids of BPF links whose program is one of the agent's, one per line.
agent_links() {
  local progs
  progs="$(bpftool -j prog show 2>/dev/null | jq -r --arg re "$HOOK_PROGS" '.[] | select((.name // "") | test($re)) | .id')"
  [ -n "$progs" ] || return 0
  bpftool -j link show 2>/dev/null | jq -r --argjson ids "[$(echo $progs | tr ' ' ',')]" \
    '.[] | select(.prog_id as $p | $ids | index($p)) | .id'
}
