#!/usr/bin/env bash
# Installs every Debian 12 package netring's build, tests and benchmarks use.
# Idempotent; run as root on a fresh machine. Nothing is downloaded from
# anywhere but the Debian mirror configured in /etc/apt.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

pkgs=(
  # Toolchain: C++20 compiler, CMake/ctest, pkg-config for the .pc files.
  build-essential cmake pkg-config git
  # BPF: clang/llvm compile bpf/*.bpf.c, bpftool generates the skeletons,
  # libbpf loads/attaches them; linux-libc-dev provides the UAPI headers.
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev linux-libc-dev
  # Libraries the agent links: metrics exposition, JSON, HTTP(S), pcap files,
  # rtnetlink (libmnl), conntrack look-ups, kubeconfig (YAML) files.
  prometheus-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev
  libpcap-dev libmnl-dev libnetfilter-conntrack-dev libyaml-cpp-dev
  # The page the agent serves at / of its API port is built on d3 from
  # Debian's node-d3 (v5), compiled into the agent at build time.
  node-d3
  # Tests and benchmarks: GoogleTest/GoogleMock, Google Benchmark, clang's
  # sanitizer and libFuzzer runtimes, libxdp (the AF_XDP reference, only in
  # bench/ and interop tests).
  libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev libxdp-dev
  # NetObserv's eBPF kernel program, the reference bench/pod_cost.sh builds
  # from ../shared/peers/netobserv, needs clang 19 (clang 14 leaves an
  # unresolved memcmp that libbpf refuses to load).
  clang-19
  # Real network parts the netns and e2e tests drive: namespaces/veths,
  # traffic, ground truth (conntrack, iptables), pcap readers, CNI plugins,
  # a real Prometheus server and promtool.
  iproute2 iputils-ping iperf3 conntrack iptables tcpdump tshark
  containernetworking-plugins prometheus curl procps psmisc ethtool jq
  # IPFIX collectors the flow exporter is tested against (tests/collector,
  # e2e/ipfix_export.sh): nfdump's nfcapd, pmacct's nfacctd, libfixbuf's
  # ipfixDump (reads a TCP stream that socat received).
  nfdump pmacct libfixbuf-tools socat
  # The command line's and the page's e2e tests: socat (above) forwards an
  # agent's API port out of its node namespace as kubectl port-forward
  # would; Debian's Chromium and its WebDriver, driven by Selenium from
  # Debian's Python, load the page headless.
  chromium chromium-driver python3-selenium
  # A real DNS server and client for the DNS truth tests (e2e/dns_tcp_truth.sh,
  # e2e/prometheus_accuracy.sh): dnsmasq serves a zone of its own, dig asks.
  dnsmasq-base bind9-dnsutils
  # Containers: the image is built and run with podman (runc, chroot
  # isolation) on a base image debootstrapped from the Debian mirror.
  podman runc debootstrap
  # Chart tests: the chart is rendered with Go's text/template + sprig (Helm's
  # template engine) and its values checked with gojsonschema, offline.
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
  golang-github-xeipuuv-gojsonschema-dev nodejs
  # Benchmark report plots.
  python3 python3-matplotlib
  # Kernel matrix (scripts/kernel-matrix.sh): Debian 12's own kernel booted
  # under qemu with the host's root file system shared through virtiofs
  # (qemu-system-x86 brings qemu's virtiofsd); kmod indexes the kernel
  # package's modules and loads them in the guest. The kernel image and
  # busybox-static are fetched with apt-get download and unpacked into a
  # cache, never installed.
  qemu-system-x86 kmod
)

# npm fetches the Kubernetes schemas for the chart tests. A nodejs from
# nodesource ships its own npm (and conflicts with Debian's npm package).
command -v npm >/dev/null || pkgs+=(npm)

# tshark asks whether non-root users may capture; answer it up front.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps.sh: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
