"""Benchmark of ``colla deploy``: the full core cloud from built images, a no-op
redeploy, and a server boot.

Prints the deploy time (goal <= 60 s for the full core with Nova, Neutron and Horizon;
kolla-ansible's best claim is 9 min), its lower bound and their ratio (goal <= 1.2), the
no-op redeploy time (goal <= 2 s) and the number of containers it restarted (goal 0),
each container's memory, and the time from a server create request to ACTIVE (a tiny
boot-sector image on a tenant network).

The lower bound is the longest chain of services in dependency order (the catalog's
``depends_on`` and ``after``), each counted at its slowest container's own time from
create to serving, read from the deploy's own progress lines in the same run. A second
bound also counts each service's bootstrap steps (its "ready" time): the gap between
the two is the services' own schema and registration work, the rest colla's. It
deploys from a fresh config directory and empty volumes of its own (prefix
``colla-bench-``); an existing colla deployment's containers are removed first only with
--takeover (its volumes are kept: they are another cloud's).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openstack

from colla import tinyimage
from colla.catalog import load_services
from colla.engine import DockerEngine
from colla.model.services import EARLY
from colla.model.specs import LABEL_MANAGED

MIB = 1024 * 1024
VOLUME_PREFIX = "colla-bench-"
STEP = re.compile(r"^\[\s*([\d.]+)s\] (\S+)/(\S+): (create|recreate|start|serving)\b")
READY = re.compile(r"^\[\s*[\d.]+s\] (\S+): (ready|early steps done) \(([\d.]+) s\)")


def container_times(progress: str) -> dict[str, float]:
    """Container → seconds from its create (or start) to serving, from deploy's stderr."""
    began: dict[str, float] = {}
    took: dict[str, float] = {}
    for line in progress.splitlines():
        match = STEP.match(line)
        if match is None:
            continue
        at, node, name, what = float(match[1]), match[2], match[3], match[4]
        key = f"{node}/{name}"
        if what == "serving" and key in began:
            took[key] = at - began.pop(key)
        elif what != "serving":
            began[key] = at
    return took


def ready_times(progress: str) -> dict[str, float]:
    """Service → seconds from its first bootstrap step to ready, and ``<service>:early``
    → the seconds its early bootstrap steps took."""
    times = {}
    for match in filter(None, map(READY.match, progress.splitlines())):
        node = match[1] if match[2] == "ready" else match[1] + EARLY
        times[node] = float(match[3])
    return times


def longest_chain(weights: dict[str, float], before: dict[str, list[str]]) -> float:
    """The heaviest path through the services' dependency graph (``before``: service →
    the services it comes after), each service weighing ``weights`` (0 when absent)."""
    memo: dict[str, float] = {}

    def reach(service: str) -> float:
        if service not in memo:
            earlier = [reach(d) for d in before.get(service, []) if d in weights]
            memo[service] = weights[service] + max(earlier, default=0.0)
        return memo[service]

    return max((reach(s) for s in weights), default=0.0)


def _bounds(progress: str) -> tuple[float, float]:
    """The containers-only and the with-bootstrap lower bounds of one deploy."""
    catalog = load_services()
    per_service: dict[str, float] = {}
    by_name = {c.name: s.name for s in catalog.services.values() for c in s.containers}
    for key, seconds in container_times(progress).items():
        service = by_name.get(key.split("/", 1)[1])
        if service is not None:
            per_service[service] = max(seconds, per_service.get(service, 0.0))
    names = set(catalog.services)
    ready = ready_times(progress)
    early = {n.removesuffix(EARLY) for n in ready if n.endswith(EARLY)}
    return (
        longest_chain(per_service, catalog.graph(names)),
        longest_chain(ready, catalog.graph(names, early)),
    )


def _colla(colla: str, *args: str) -> float:
    started = time.monotonic()
    subprocess.run([colla, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def _deploy(colla: str, config: str) -> tuple[float, str]:
    """Seconds, and the progress lines (stderr) of `colla deploy`."""
    started = time.monotonic()
    done = subprocess.run(
        [colla, "deploy", "-c", config], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    if done.returncode != 0:
        # The deploy's own words say what failed; the figures would mean nothing.
        sys.exit(f"colla deploy failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return time.monotonic() - started, done.stderr


def _boot_seconds(config: Path) -> float:
    """Boot one server on a tenant network; seconds from the request to ACTIVE."""
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(config / "clouds.yaml")
    conn = openstack.connect(cloud="colla")
    flavor = conn.compute.create_flavor(name="bench", ram=64, vcpus=1, disk=1)
    image = conn.image.create_image(
        name="bench-boot",
        data=tinyimage.boot_sector_image(),
        disk_format="raw",
        container_format="bare",
    )
    conn.image.wait_for_status(image, status="active", wait=120)
    network = conn.network.create_network(name="bench-net")
    conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.88.0.0/24")
    started = time.monotonic()
    server = conn.compute.create_server(
        name="bench-server",
        flavor_id=flavor.id,
        image_id=image.id,
        networks=[{"uuid": network.id}],
    )
    conn.compute.wait_for_server(server, status="ACTIVE", wait=600)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--colla", default=str(Path(sys.executable).parent / "colla"))
    parser.add_argument("--takeover", action="store_true", help="Remove an existing deployment.")
    parser.add_argument("--progress", type=Path, help="Write the deploy's progress lines here.")
    args = parser.parse_args()
    engine = DockerEngine.connect()
    existing = engine.containers(f"{LABEL_MANAGED}=true")
    if existing and not args.takeover:
        names = ", ".join(sorted(c.name for c in existing))
        print(f"a colla deployment runs here ({names}); rerun with --takeover to replace it")
        return 2
    with tempfile.TemporaryDirectory(prefix="colla-bench-") as tmp:
        config = str(Path(tmp) / "config")
        _colla(args.colla, "init", "-c", config)
        # Volumes of its own, so that it starts empty: destroy --volumes removes only
        # those a config directory names (another cloud's are never touched).
        with (Path(config) / "globals.yml").open("a") as f:
            f.write(f"colla_volume_prefix: {VOLUME_PREFIX}\n")
        _colla(args.colla, "genpwd", "-c", config)
        _colla(args.colla, "destroy", "--volumes", "--yes-i-really-mean-it", "-c", config)
        deploy, progress = _deploy(args.colla, config)
        bound, with_steps = _bounds(progress)
        if args.progress is not None:
            args.progress.write_text(progress)
        _colla(args.colla, "post-deploy", "-c", config)
        before = {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}
        noop = _colla(args.colla, "deploy", "-c", config)
        after = {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}
        restarted = sorted(n for n in before if before[n] != after.get(n))
        boot = _boot_seconds(Path(config))
        print(f"{'container':<28}{'memory MiB':>12}")
        total = 0
        for name in sorted(after):
            used = engine.memory_usage(name)
            total += used
            print(f"{name:<28}{used / MIB:>12.1f}")
        print(f"{'total':<28}{total / MIB:>12.1f}")
        print()
        print(f"deploy of {len(after)} containers from built images: {deploy:.1f} s (goal <= 60 s)")
        print(
            f"lower bound, containers only: {bound:.1f} s; ratio {deploy / bound:.2f} (goal <= 1.2)"
        )
        print(
            f"lower bound with bootstrap steps: {with_steps:.1f} s; ratio {deploy / with_steps:.2f}"
        )
        print(f"no-op redeploy: {noop:.2f} s (goal <= 2 s), containers restarted: {len(restarted)}")
        print(f"server boot, create request to ACTIVE: {boot:.1f} s")
        # The containers mount the temporary config directory: they go with it.
        _colla(args.colla, "destroy", "--volumes", "--yes-i-really-mean-it", "-c", config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
