"""Benchmark of ``colla deploy``: the core set from built images, then a no-op redeploy.

Prints the deploy time (goal <= 180 s), the no-op redeploy time (goal <= 2 s) and the
number of containers it restarted (goal 0), and each container's memory. It deploys
from a fresh config directory and empty volumes; an existing colla deployment on the
engine is removed first only with --takeover (its volumes too: this is a benchmark).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from colla.deploy.specs import LABEL_MANAGED
from colla.engine import Engine

MIB = 1024 * 1024


def _colla(colla: str, *args: str) -> float:
    started = time.monotonic()
    subprocess.run([colla, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--colla", default=str(Path(sys.executable).parent / "colla"))
    parser.add_argument("--takeover", action="store_true", help="Remove an existing deployment.")
    args = parser.parse_args()
    engine = Engine.connect()
    existing = engine.containers(f"{LABEL_MANAGED}=true")
    if existing and not args.takeover:
        names = ", ".join(sorted(c.name for c in existing))
        print(f"a colla deployment runs here ({names}); rerun with --takeover to replace it")
        return 2
    _colla(args.colla, "destroy", "--volumes", "--yes-i-really-mean-it")
    with tempfile.TemporaryDirectory(prefix="colla-bench-") as tmp:
        config = str(Path(tmp) / "config")
        _colla(args.colla, "init", "-c", config)
        _colla(args.colla, "genpwd", "-c", config)
        deploy = _colla(args.colla, "deploy", "-c", config)
        before = {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}
        noop = _colla(args.colla, "deploy", "-c", config)
        after = {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}
        restarted = sorted(n for n in before if before[n] != after.get(n))
        print(f"{'container':<16}{'memory MiB':>12}")
        total = 0
        for name in sorted(after):
            used = engine.memory_usage(name)
            total += used
            print(f"{name:<16}{used / MIB:>12.1f}")
        print(f"{'total':<16}{total / MIB:>12.1f}")
        print()
        print(f"deploy of the core set from built images: {deploy:.1f} s (goal <= 180 s)")
        print(f"no-op redeploy: {noop:.2f} s (goal <= 2 s), containers restarted: {len(restarted)}")
        # The containers mount the temporary config directory: they go with it.
        _colla(args.colla, "destroy", "--volumes", "--yes-i-really-mean-it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
