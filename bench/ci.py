"""Benchmark of CI: ``.ci/run`` from a clean clone of this repository, timed.

``--cold`` first stops dockerd and removes /var/lib/docker, as on a brand-new machine
(it destroys every image, container and volume of this engine: it asks for
``--yes-i-really-mean-it``). Without it the run is warm: the engine keeps its images.
Prints the run's minutes against CI's limits (45 cold, 25 warm, 90 hard) and the ten
slowest tests from pytest's --durations table. Only the standard library: it runs
before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"cold": 45, "warm": 25}
HARD = 90
DURATION = re.compile(r"^\s*(\d+\.\d+)s (call|setup|teardown)\s+(\S+)")


def wipe_engine() -> None:
    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=False)
    deadline = time.monotonic() + 120
    while subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            sys.exit("bench/ci: dockerd did not stop")
        time.sleep(1)
    shutil.rmtree("/var/lib/docker", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--yes-i-really-mean-it", action="store_true", dest="sure")
    parser.add_argument("--log", type=Path, default=Path("/tmp/colla-bench-ci.log"))
    args = parser.parse_args()
    if args.cold and not args.sure:
        sys.exit("bench/ci --cold removes /var/lib/docker: add --yes-i-really-mean-it")
    if args.cold:
        wipe_engine()
    kind = "cold" if args.cold else "warm"
    work = Path(tempfile.mkdtemp(prefix="colla-ci-"))
    clone = work / "colla"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    print(f"bench/ci: {kind} run of .ci/run in {clone}; log {args.log}", flush=True)
    started = time.monotonic()
    with args.log.open("w") as log:
        code = subprocess.run(
            ["bash", ".ci/run"], cwd=clone, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env={**os.environ, "CI": "true"},
        ).returncode  # fmt: skip
    minutes = (time.monotonic() - started) / 60
    slowest = []
    for line in args.log.read_text(errors="replace").splitlines():
        match = DURATION.match(line)
        if match:
            slowest.append((float(match[1]), match[2], match[3]))
    print(
        f"{kind} .ci/run: {minutes:.1f} min (goal <= {GOALS[kind]}, CI limit {HARD}), exit {code}"
    )
    print(f"ratio to the goal: {minutes / GOALS[kind]:.2f}")
    print("ten slowest:")
    for seconds, phase, test in sorted(slowest, reverse=True)[:10]:
        print(f"  {seconds:7.1f} s  {phase:<8} {test}")
    shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
