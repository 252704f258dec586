"""The kernel matrix's summary: per kernel, each planned test's outcome, every
GoogleTest case that skipped (by name, with its reason and whether the skip
policy allows it there), and every failure. Exits non-zero when a test failed,
timed out, did not run at all, or skipped where it must run.

Usage: summary.py PLAN_DIR LABEL=RESULTS_DIR [LABEL=RESULTS_DIR ...]
"""

import os
import re
import sys

SKIP_LINE = re.compile(r"^netring-skip: (\S+) (\S+) (allowed|NOT-ALLOWED): (.*)$")
GTEST_COUNT = re.compile(r"^\[\s+(PASSED|SKIPPED|FAILED)\s+\] (\d+) tests?")
GTEST_END = re.compile(r"^\[==========\] \d+ tests? from \d+ test suites? ran")
GTEST_FAILED = re.compile(r"^\[  FAILED  \] (\S+)(?:, where| \(|$)")


def planned(plan_dir):
    names = []
    for f in sorted(os.listdir(plan_dir)):
        if f.endswith(".sh"):
            names.append(f[:-3].split("-", 1)[1])
    return names


def read(path, default=None):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def outcome(results, name):
    """(status, secs, gtest counts, skips, failed cases) of one test."""
    rc = read(os.path.join(results, name + ".rc"))
    log = read(os.path.join(results, name + ".log"), "")
    secs = (read(os.path.join(results, name + ".secs")) or "?").strip()
    counts = {}
    skips = []
    failed_cases = []
    lines = log.splitlines()
    # GoogleTest's closing summary is the binary's own: a test that runs
    # child test processes has their summaries earlier in the log.
    ends = [i for i, line in enumerate(lines) if GTEST_END.match(line)]
    tail = lines[ends[-1]:] if ends else lines
    for line in tail:
        m = GTEST_COUNT.match(line)
        if m:
            counts[m.group(1)] = int(m.group(2))
        m = GTEST_FAILED.match(line)
        if m and m.group(1) not in failed_cases and "tests" not in m.group(1):
            failed_cases.append(m.group(1))
    for line in lines:
        m = SKIP_LINE.match(line)
        if m:
            skips.append((m.group(2), m.group(3), m.group(4)))
    if rc is None:
        status = "NOT RUN"
    elif rc.strip() == "0":
        status = "ok"
    elif rc.strip() in ("124", "137"):
        status = "TIMEOUT"
    else:
        status = f"FAILED (exit {rc.strip()})"
    return status, secs, counts, skips, failed_cases


def main():
    plan_dir = sys.argv[1]
    names = planned(plan_dir)
    bad = False
    proven = []
    for arg in sys.argv[2:]:
        label, _, results = arg.partition("=")
        kernel = (read(os.path.join(results, "kernel")) or "?").strip()
        print(f"\n== kernel {kernel} ({label})")
        rows = [outcome(results, n) for n in names]
        cases = {"PASSED": 0, "SKIPPED": 0, "FAILED": 0}
        kernel_bad = False
        width = max(len(n) for n in names)
        for name, (status, secs, counts, skips, failed_cases) in zip(names, rows):
            for k, v in counts.items():
                cases[k] += v
            detail = ""
            if counts:
                detail = f"{counts.get('PASSED', 0)} passed"
                if counts.get("SKIPPED"):
                    detail += f", {counts['SKIPPED']} skipped"
                if counts.get("FAILED"):
                    detail += f", {counts['FAILED']} failed"
            print(f"  {name:<{width}}  {status:<16} {secs:>4}s  {detail}")
            for case in failed_cases:
                print(f"      failed: {case}")
            if status != "ok":
                kernel_bad = True
        skipped = [(n, s) for n, row in zip(names, rows) for s in row[3]]
        if skipped:
            print(f"  skipped on {kernel}:")
            for name, (test, verdict, reason) in skipped:
                mark = "" if verdict == "allowed" else "  <-- must run on this kernel"
                print(f"    {test} [{name}]: {reason}{mark}")
                if verdict != "allowed":
                    kernel_bad = True
        else:
            print(f"  skipped on {kernel}: none")
        print(
            f"  {kernel}: {sum(1 for r in rows if r[0] == 'ok')}/{len(rows)} tests ok; "
            f"gtest cases {cases['PASSED']} passed, {cases['SKIPPED']} skipped, {cases['FAILED']} failed"
        )
        if kernel_bad:
            bad = True
        else:
            proven.append(kernel)
    print()
    print("kernel matrix: proven on " + (", ".join(proven) if proven else "no kernel"))
    if bad:
        print("kernel matrix: FAILED (logs of each test are in the results directories above)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
