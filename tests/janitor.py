"""The janitor: what an earlier, killed run of the suite left behind, removed first.

A killed run skips its finalizers, and each leftover used to break every later run
until someone cleaned up by hand ("File exists", 409s, a lab node that restarts itself
and is reused). Only what the suite itself makes is touched: lab containers, volumes
and networks (labelled ``colla.lab``), registries the labs started, the test veth, and
the suite's own config directory and volumes (see ``SUITE_VOLUME_PREFIX``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from colla.engine import DockerEngine
from colla.lab.lab import LABEL_LAB
from colla.lab.settings import LABEL_REGISTRY

# The e2e cloud's volumes carry this prefix (globals ``colla_volume_prefix``), so the
# suite never reads or deletes the data of an operator's cloud on the same engine.
SUITE_VOLUME_PREFIX = "colla-suite-"
TEST_LINKS = ("colla-e2e0",)


# The e2e lab (test_multinode), and the second one earlier suites made; an operator's
# own labs have other names and are left alone.
SUITE_LABS = ("colla-e2e", "colla-e2e-full")
REGISTRY = "colla-registry"


def sweep(engine: DockerEngine, config_dir: Path, say: Callable[[str], None]) -> None:
    """Remove every leftover of an earlier run; say what was removed."""
    leftover_lab = False
    for lab in SUITE_LABS:
        label = f"{LABEL_LAB}={lab}"
        for info in engine.containers(label):
            engine.remove_container(info.name)
            say(f"removed leftover lab container {info.name}")
            leftover_lab = True
        # A lab that was killed mid-run may also have left its registry, attached to the
        # lab's network: the registry goes first, or the network cannot be removed.
        registry = engine.container(REGISTRY)
        if leftover_lab and registry is not None and registry.labels.get(LABEL_REGISTRY):
            engine.remove_container(REGISTRY)
            say(f"removed leftover registry {REGISTRY}")
        for network in engine.networks(label):
            engine.remove_network(network)
            say(f"removed leftover network {network}")
        for volume in engine.volumes(label):
            engine.remove_volume(volume)
            say(f"removed leftover volume {volume}")
    for link in TEST_LINKS:
        if subprocess.run(["ip", "link", "show", link], capture_output=True).returncode == 0:
            subprocess.run(["ip", "link", "del", link], check=True)
            say(f"removed leftover interface {link}")
    if config_dir.exists():
        shutil.rmtree(config_dir)
        say(f"removed the suite's config directory {config_dir}")


def suite_volumes(engine: DockerEngine) -> list[str]:
    """The e2e cloud's volumes (never an operator's: those have no suite prefix)."""
    return [v for v in engine.all_volumes() if v.startswith(SUITE_VOLUME_PREFIX)]
