"""Benchmark of ``colla deploy``: the full core cloud from built images, a no-op
redeploy, and a server boot.

Prints the deploy time (goal <= 360 s for the full core with Nova, Neutron and Horizon;
kolla-ansible's best claim is 9 min), the no-op redeploy time (goal <= 2 s) and the
number of containers it restarted (goal 0), each container's memory, and the time from
a server create request to ACTIVE (a tiny boot-sector image on a tenant network). It
deploys from a fresh config directory and empty volumes; an existing colla deployment
on the engine is removed first only with --takeover (its volumes too: a benchmark).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openstack

from colla import tinyimage
from colla.engine import DockerEngine
from colla.model.specs import LABEL_MANAGED

MIB = 1024 * 1024


def _colla(colla: str, *args: str) -> float:
    started = time.monotonic()
    subprocess.run([colla, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


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
    args = parser.parse_args()
    engine = DockerEngine.connect()
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
        print(
            f"deploy of {len(after)} containers from built images: {deploy:.1f} s (goal <= 360 s)"
        )
        print(f"no-op redeploy: {noop:.2f} s (goal <= 2 s), containers restarted: {len(restarted)}")
        print(f"server boot, create request to ACTIVE: {boot:.1f} s")
        # The containers mount the temporary config directory: they go with it.
        _colla(args.colla, "destroy", "--volumes", "--yes-i-really-mean-it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
