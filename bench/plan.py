"""Benchmark of ``colla plan`` on a deployed cloud: the median of several runs.

``--colla`` picks the binary, so that two checkouts (before and after a change) are
timed against the same cloud, one after the other. Prints each run and the median; with
``--against OTHER`` (another colla binary) it prints both medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _runs(colla: str, config_dir: Path, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.monotonic()
        # Exit 0, or 1 when a precheck fails (ports in use by the cloud itself are fine).
        subprocess.run(
            [colla, "plan", "-c", str(config_dir)], stdout=subprocess.DEVNULL, check=False
        )
        seconds.append(time.monotonic() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--colla", default=str(Path(sys.executable).parent / "colla"))
    parser.add_argument("--against", help="another colla binary to compare with")
    parser.add_argument("--config-dir", default="/etc/colla", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    medians = {}
    for label, colla in (("this", args.colla), ("other", args.against)):
        if colla is None:
            continue
        seconds = _runs(colla, args.config_dir, args.runs)
        medians[label] = statistics.median(seconds)
        listed = " ".join(f"{s:.2f}" for s in seconds)
        print(f"{label:<6} {colla}: median {medians[label]:.2f} s ({listed})")
    if "other" in medians:
        print(f"ratio this/other: {medians['this'] / medians['other']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
