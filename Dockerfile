# netring-agent container image (with the netring command line).
#
#   scripts/image.sh            builds it here (local base image, no registry)
#   podman build -t netring-agent .      anywhere a registry is reachable
#
# Two stages: a Debian 12 build stage with the compilers and -dev packages,
# and a slim Debian 12 runtime stage with only the shared libraries the agent
# loads. No HEALTHCHECK: Kubernetes probes /healthz and /readyz instead.

# Debian 12 ("bookworm"). scripts/base-image.sh makes a local equivalent and
# scripts/image.sh passes its name, because no registry is reachable there.
ARG BASE_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build

# Build packages only (scripts/deps.sh also installs the test tools).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev linux-libc-dev \
      prometheus-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev \
      libpcap-dev libmnl-dev libnetfilter-conntrack-dev libyaml-cpp-dev \
      node-d3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# .dockerignore keeps tests, benchmarks, charts and build trees out.
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DNETRING_BUILD_TESTS=OFF -DNETRING_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target netring-agent netring \
 && /build/netring-agent --version && /build/netring --version

# ---------------------------------------------------------------------------
FROM ${BASE_IMAGE}

ARG VERSION=0.0.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="netring-agent" \
      org.opencontainers.image.description="Kubernetes network-observability node agent: samples pod and node traffic with BPF and AF_XDP, exports flows as Prometheus metrics and an HTTP JSON API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"

# Runtime libraries of the agent: libbpf (+ libelf, zlib) loads the embedded
# BPF, libmnl speaks rtnetlink, libpcap writes capture files, cpp-httplib +
# OpenSSL serve HTTP and reach the Kubernetes API over TLS, prometheus-cpp
# renders metrics, libnetfilter-conntrack resolves NATed service flows,
# yaml-cpp reads a --kubeconfig.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g libmnl0 libpcap0.8 libcpp-httplib0.11 libssl3 \
      libprometheus-cpp-core1.0 libnetfilter-conntrack3 libyaml-cpp0.7 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log

COPY --from=build /build/netring-agent /usr/bin/netring-agent
# The command line, for `kubectl -n netring exec ds/netring -- netring observe`
# (the agent's API is on the pod's loopback) and to copy out of the image.
COPY --from=build /build/netring /usr/bin/netring
# Fails the build if a binary needs a library the list above lacks.
RUN if ldd /usr/bin/netring-agent /usr/bin/netring | grep 'not found'; then exit 1; fi \
 && /usr/bin/netring-agent --version && /usr/bin/netring --version

# Root: loading BPF and opening AF_XDP sockets needs capabilities that the
# DaemonSet grants to UID 0 only (it drops all others).
USER 0
EXPOSE 9990
ENTRYPOINT ["/usr/bin/netring-agent"]
