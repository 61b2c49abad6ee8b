#!/usr/bin/python3
"""Sum meson test logs into one "N passed, N failed" line.

TAP tests count each of their test points; other tests count once. A log that
is missing counts as a failure: a suite that did not run has not passed.
"""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")
TAP_PLAN = re.compile(r"^1\.\.\d+", re.MULTILINE)


def count(log_path):
    passed = failed = 0
    failures = []
    try:
        with open(log_path, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        return 0, 1, [f"{log_path}: {e.strerror}"]
    for t in lines:
        name = t.get("name", "?")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        points = []
        stdout = t.get("stdout") or ""
        if TAP_PLAN.search(stdout):
            for line in stdout.splitlines():
                m = TAP_LINE.match(line.strip())
                if m and "# SKIP" not in m.group(2).upper():
                    points.append(m.group(1) == "ok")
                elif m:
                    points.append(False)    # a skip is a failure here
        if points:
            p = sum(points)
            fl = len(points) - p
            if not ok and fl == 0:
                fl = 1                      # crashed after its last test point
            passed += p
            failed += fl
        else:
            passed += ok
            failed += not ok
        if not ok:
            failures.append(f"{name} ({t.get('result')})")
    return passed, failed, failures


def main():
    total_p = total_f = 0
    for path in sys.argv[1:]:
        p, f, failures = count(path)
        total_p += p
        total_f += f
        for name in failures:
            print(f"FAILED: {name}  [{path}]")
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f or total_p == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
