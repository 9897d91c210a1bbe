"""Benchmark of ``make aio`` from a bare machine: no engine data, no virtualenv.

Like bench/ci --cold, it first stops dockerd and removes /var/lib/docker (every image,
container and volume of this engine: it asks for ``--yes-i-really-mean-it``), then runs
``make aio`` in a clean clone of this repository (so no virtualenv either), with its own
config directory, and prints the minutes against the goal (5) and the time of each phase
from make's own output. Debian packages stay installed: removing them would reach past
this project. The cloud it makes is left running; ``--destroy`` removes it and its
volumes afterwards. Only the standard library: it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.ci import wipe_engine

ROOT = Path(__file__).resolve().parents[1]
GOAL_MINUTES = 5
CONFIG = "/var/lib/colla-bench-aio/config"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--yes-i-really-mean-it", action="store_true", dest="sure")
    parser.add_argument("--destroy", action="store_true", help="Remove the cloud afterwards.")
    parser.add_argument("--log", type=Path, default=Path("/tmp/colla-bench-aio.log"))
    args = parser.parse_args()
    if not args.sure:
        sys.exit("bench/aio removes /var/lib/docker: add --yes-i-really-mean-it")
    wipe_engine()
    shutil.rmtree(Path(CONFIG).parent, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="colla-aio-"))
    clone = work / "colla"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    print(f"bench/aio: make aio in {clone}; log {args.log}", flush=True)
    phases: list[tuple[float, str]] = []
    started = time.monotonic()
    with args.log.open("w") as log:
        process = subprocess.Popen(
            ["make", "aio", f"CONFIG_DIR={CONFIG}"], cwd=clone, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            # make echoes each recipe line it runs: those mark the phases.
            if line.startswith((".venv/bin/colla ", "python3 -m venv", ".venv/bin/pip ")):
                phases.append((time.monotonic() - started, line.strip()))
        code = process.wait()
    minutes = (time.monotonic() - started) / 60
    print(f"make aio from a bare machine: {minutes:.1f} min (goal <= {GOAL_MINUTES}), exit {code}")
    print(f"ratio to the goal: {minutes / GOAL_MINUTES:.2f}")
    ends = [at for at, _ in phases[1:]] + [minutes * 60]
    for (at, what), end in zip(phases, ends, strict=True):
        print(f"  {end - at:6.1f} s  {what[:90]}")
    if args.destroy:
        colla = clone / ".venv" / "bin" / "colla"
        subprocess.run(
            [str(colla), "destroy", "--volumes", "--yes-i-really-mean-it", "-c", CONFIG],
            check=False, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
