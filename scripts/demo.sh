#!/usr/bin/env bash
# The main job: installs what is missing, builds the agent and runs it.
# Usage (as root): ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
build=${NETRING_BUILD_DIR:-build/demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNETRING_BUILD_TESTS=OFF -DNETRING_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target netring-agent
"$build/netring-agent" --version
"$build/netring-agent" --help
