#!/usr/bin/env bash
# Runs a container the way this machine kind (and CI's) allows:
#
#   scripts/podman-run.sh [podman run options] IMAGE [ARGS]
#   e.g. scripts/podman-run.sh --rm localhost/netring-agent:0.1.0 --version
#
# - runc and cgroupfs: no systemd session to manage cgroups.
# - Explicit ulimits: without CAP_SYS_RESOURCE a container's limits can only be
#   lowered. podman's defaults (RLIMIT_NOFILE 1048576) and even the shell's own
#   values fail in runc with "error setting rlimit type 7/6: operation not
#   permitted", because podman itself runs with a lower RLIMIT_NPROC (32768
#   here) than the shell. Root ignores RLIMIT_NPROC, so a low value costs the
#   agent nothing.
set -euo pipefail
exec podman --runtime runc --cgroup-manager cgroupfs run \
  --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096 "$@"
