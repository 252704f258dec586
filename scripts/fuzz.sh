#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build/fuzz and
# runs the flow parser, DNS message and API query fuzzers for a fixed number of inputs, from the
# committed seed corpus, with a fixed seed: the same inputs on every run.
# Exits non-zero on a crash, leak or sanitizer report (the input is kept
# in build/fuzz/crash-*).
# Usage: scripts/fuzz.sh [RUNS] [extra libFuzzer flags]
#   RUNS defaults to 1000000 (~10-30 s on 2 cores);
#   longer runs: scripts/fuzz.sh 50000000, or -1 to run until a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-1000000}
shift || true
build=${NETRING_FUZZ_BUILD_DIR:-build/fuzz}

CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETRING_FUZZ=ON \
  -DNETRING_BUILD_TESTS=OFF -DNETRING_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target flow_parser_fuzz dns_message_fuzz api_query_fuzz

# libFuzzer writes new inputs into its first corpus directory: give it a
# scratch copy so the committed seeds stay as they are.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in flow_parser dns_message api_query; do
  mkdir "$work/$target"
  cp fuzz/corpus/$target/* "$work/$target/"
  "$build/fuzz/${target}_fuzz" -runs="$runs" -seed=1 -max_len=512 -print_final_stats=1 \
    -artifact_prefix="$build/" "$@" "$work/$target"
done
