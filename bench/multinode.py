"""Benchmark of ``colla deploy`` across lab nodes: 1 node, then 3 with the same work each.

Each node runs MariaDB, memcached and RabbitMQ (the inventory places each service on
every node), so 3 nodes do three times the work of one; deployed in parallel they
should take about as long (goal: ratio <= 1.5). Prints both deploy times and their
ratio. It brings up its own lab (name ``colla-bench``, its own subnet), sends the
images to the nodes before timing anything, and removes the lab at the end unless
--keep. Images come from this engine under --namespace (default ``colla-lab``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from colla.catalog import load_services
from colla.cli.app import run
from colla.engine import DockerEngine, Engine
from colla.lab.files import inventory_text
from colla.lab.lab import node_endpoint
from colla.lab.settings import lab_settings
from colla.model.specs import LABEL_MANAGED

NAME = "colla-bench"
SUBNET = "10.213.60.0/24"  # and .61.0/24 for its second network
SERVICES = ("mariadb", "memcached", "rabbitmq")


def _clean(engine: Engine) -> None:
    for info in engine.containers(f"{LABEL_MANAGED}=true"):
        engine.remove_container(info.name)
    for volume in engine.volumes(f"{LABEL_MANAGED}=true"):
        engine.remove_volume(volume)


def _inventory(state: Path, nodes: int) -> Path:
    settings = lab_settings(name=NAME, subnet=SUBNET, nodes=nodes, state_dir=state)
    groups = "".join(f"\n[{s}:children]\ncontrol\ncompute\n" for s in SERVICES)
    path = state / f"inventory-{nodes}"
    path.write_text(inventory_text(settings) + groups)
    return path


def _deploy(colla: str, state: Path, inventory: Path, log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run(
            [colla, "deploy", "-c", str(state), "-i", str(inventory)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--colla", default=str(Path(sys.executable).parent / "colla"))
    parser.add_argument("--namespace", default="colla-lab")
    parser.add_argument("--image", default="colla-lab/lab-node:zed", help="The lab node image.")
    parser.add_argument("--state-dir", default=f"/tmp/{NAME}")
    parser.add_argument("--keep", action="store_true", help="Leave the lab up.")
    parser.add_argument("--log-dir", default=f"/tmp/{NAME}-logs", help="The deploys' output.")
    args = parser.parse_args()
    state = Path(args.state_dir)
    settings = lab_settings(name=NAME, subnet=SUBNET, nodes=3, state_dir=state)
    up = ["lab", "up", "--nodes", "3", "--name", NAME, "--subnet", SUBNET]
    if run([*up, "--image", args.image, "--state-dir", str(state)]) != 0:
        return 1
    try:
        enabled = "".join(
            f"enable_{s}: {'true' if s in SERVICES else 'false'}\n"
            for s in sorted(load_services().defaults())
        )
        (state / "globals.yml").write_text(
            f'---\nnetwork_interface: "eth0"\n'
            f'kolla_internal_vip_address: "{settings.node_address("node1")}"\n'
            f"docker_namespace: {args.namespace}\n{enabled}"
        )
        if run(["genpwd", "-c", str(state)]) != 0:
            return 1
        one, three = _inventory(state, 1), _inventory(state, 3)
        engines = {
            n: DockerEngine.connect_endpoint(node_endpoint(settings, n))
            for n in settings.node_names()
        }
        for node in engines:
            refs = [f"{args.namespace}/{s}:zed" for s in SERVICES]
            send = ["images", "send", "--node", node, *refs, "-c", str(state), "-i", str(three)]
            if run(send) != 0:
                return 1
            _clean(engines[node])
        (state / "history.sqlite").unlink(missing_ok=True)
        logs = Path(args.log_dir)
        logs.mkdir(parents=True, exist_ok=True)
        single = _deploy(args.colla, state, one, logs / "deploy-1-node.log")
        _clean(engines["node1"])
        (state / "history.sqlite").unlink(missing_ok=True)
        triple = _deploy(args.colla, state, three, logs / "deploy-3-nodes.log")
        per_node = len(SERVICES)
        print(f"deploy, 1 node  ({per_node} containers):  {single:6.1f} s")
        print(f"deploy, 3 nodes ({per_node} containers each): {triple:6.1f} s")
        print(f"ratio 3 nodes / 1 node: {triple / single:.2f} (goal <= 1.5)")
        print(f"deploy logs (each step's time): {logs}")
    finally:
        if not args.keep:
            run(["lab", "down", "--name", NAME, "--state-dir", str(state)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
