"""Turns the tests ctest selects by label into a plan: one shell script per
test, with ctest's own command line, environment, working directory and
timeout, so a kernel that runs without ctest (the guest: read-only tree)
runs exactly what ctest would.

Usage: plan.py CTEST_JSON PLAN_DIR   (CTEST_JSON from `ctest --show-only=json-v1 -L ...`)
"""

import json
import os
import shlex
import sys


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        listing = json.load(f)
    plan_dir = sys.argv[2]
    os.makedirs(plan_dir, exist_ok=True)
    tests = listing.get("tests", [])
    for i, t in enumerate(tests):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if props.get("DISABLED"):
            continue
        lines = [
            "#!/bin/bash",
            f"# test: {t['name']}",
            f"# timeout: {int(float(props.get('TIMEOUT', 600)))}",
        ]
        workdir = props.get("WORKING_DIRECTORY")
        if workdir:
            lines.append(f"cd {shlex.quote(workdir)} || exit 1")
        for kv in props.get("ENVIRONMENT", []):
            key, _, value = kv.partition("=")
            lines.append(f"export {key}={shlex.quote(value)}")
        lines.append("exec " + " ".join(shlex.quote(a) for a in t["command"]))
        path = os.path.join(plan_dir, f"{i:03d}-{t['name']}.sh")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    if not tests:
        print("plan.py: ctest selected no test", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
