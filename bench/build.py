"""Benchmark of ``colla build``: cold and warm build times, sizes, layers added.

Runs the public command line (``colla``) and reads image facts from the engine; prints
figures and the issue's goals beside them. Uses its own namespace, removed at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from colla.engine import DockerEngine
from colla.images import graph
from colla.images.catalog import load_catalog

NAMESPACE = "colla-bench"
TAG = "bench"
BASE = f"{NAMESPACE}/debian:bookworm"
MB = 1_000_000


def _timed(command: list[str]) -> float:
    print("$", " ".join(command), flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--colla", default=str(Path(sys.executable).parent / "colla"))
    parser.add_argument("--profile", default="core")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark images.")
    args = parser.parse_args()
    colla = args.colla
    catalog = load_catalog()
    names = graph.order(catalog, graph.select(catalog, [], args.profile))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Path(tmp) / "build.yml"
        settings.write_text(f"namespace: {NAMESPACE}\ntag: {TAG}\nbase_image: {BASE}\n")
        build = [colla, "build", "--profile", args.profile, "--config", str(settings)]
        build += ["--log-dir", str(Path(tmp) / "logs")]
        base_seconds = _timed([colla, "base", "--rebuild", "--image", BASE])
        cold = _timed([*build, "--no-cache"])
        warm = _timed(build)
    engine = DockerEngine.connect()
    base_info = engine.image(BASE)
    assert base_info is not None
    rows = []
    for name in names:
        info = engine.image(f"{NAMESPACE}/{name}:{TAG}")
        parent_ref = (
            BASE if catalog[name].parent is None else f"{NAMESPACE}/{catalog[name].parent}:{TAG}"
        )
        parent = engine.image(parent_ref)
        assert info is not None and parent is not None
        rows.append(
            (name, info.size, info.size - parent.size, len(info.layers) - len(parent.layers))
        )
    print()
    print(f"{'image':<16}{'size MB':>10}{'added MB':>10}{'layers':>8}")
    for name, size, added, layers in rows:
        print(f"{name:<16}{size / MB:>10.1f}{added / MB:>10.1f}{layers:>8}")
    services = [r for r in rows if r[0] not in ("base", "openstack-base")]
    average_added = sum(r[2] for r in services) / len(services)
    base_size = next(r[1] for r in rows if r[0] == "base")
    print()
    print(
        f"base OS image (debootstrap + import): {base_seconds:.1f} s, {base_info.size / MB:.1f} MB"
    )
    print(f"cold build, {len(names)} images, --no-cache: {cold:.1f} s   (goal <= 600 s)")
    print(f"warm no-change rebuild:               {warm:.1f} s   (goal <= 10 s)")
    print(f"colla base image size:                {base_size / MB:.1f} MB (goal <= 250 MB)")
    print(f"average added per service image:      {average_added / MB:.1f} MB (goal <= 150 MB)")
    if not args.keep:
        for name in reversed(names):
            engine.remove_image(f"{NAMESPACE}/{name}:{TAG}")
        engine.remove_image(BASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
