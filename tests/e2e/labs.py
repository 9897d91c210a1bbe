"""A lab for an end-to-end test: built images in the lab registry, nodes up, a config
directory of the test's own, and everything the test made removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from colla.cli.app import run
from colla.engine import ContainerInfo, DockerEngine, Engine
from colla.lab.lab import node_endpoint
from colla.lab.registry import registry_down
from colla.lab.settings import LabSettings
from colla.model.specs import LABEL_MANAGED
from tests.conftest import CONFIG_DIR

BIN = Path(sys.executable).parent
NAMESPACE = "colla-lab"  # never colla/*: those are the all-in-one cloud's images
LAB_IMAGE = f"{NAMESPACE}/lab-node:zed"
REGISTRY_IMAGE = f"{NAMESPACE}/registry:zed"
BUILD_LOCK = "/tmp/colla-build.lock"  # shared with every other build on this machine


def build(*args: str) -> None:
    """``colla build --namespace colla-lab ARGS``, holding the machine's build lock."""
    command = ["flock", BUILD_LOCK, str(BIN / "colla"), "build", "--namespace", NAMESPACE]
    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@dataclass(frozen=True)
class Lab:
    """A running lab: its settings, the test's config directory, this machine's engine."""

    settings: LabSettings
    config_dir: Path
    local: Engine

    def node(self, name: str) -> Engine:
        """A node's engine, over SSH with the lab's key and known_hosts."""
        return DockerEngine.connect_endpoint(node_endpoint(self.settings, name))

    def wait_for_node(self, name: str, timeout: float = 60) -> None:
        """Until the node's engine answers again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.node(name)
                return
            except Exception:
                assert time.monotonic() < deadline, f"{name} did not come back"
                time.sleep(1)

    def colla(self, *args: str) -> int:
        """A colla command on the test's config directory, in this process."""
        return run([*args, "-c", str(self.config_dir)])

    def up_args(self) -> list[str]:
        """``colla lab up`` for this lab."""
        s = self.settings
        return [
            "lab", "up", "--nodes", str(s.nodes), "--name", s.name,
            "--subnet", str(s.subnet), "--image", LAB_IMAGE, "--state-dir", str(s.state_dir),
        ]  # fmt: skip


def managed(engine: Engine) -> dict[str, ContainerInfo]:
    """colla's containers on one engine, by name."""
    return {c.name: c for c in engine.containers(f"{LABEL_MANAGED}=true")}


@contextlib.contextmanager
def running_lab(
    settings: LabSettings, globals_extra: str, inventory_extra: str, builds: Sequence[list[str]]
) -> Iterator[Lab]:
    """Build and push ``builds``, bring the lab up, write the test's config directory."""
    local = DockerEngine.connect()
    # The all-in-one cloud's modules are done by now (tests/conftest.py's order): its
    # 19 containers would only take the 2 cores and the memory the lab nodes need.
    if CONFIG_DIR.exists():
        assert run(["stop", "-c", str(CONFIG_DIR)]) == 0
    started_registry = local.container(settings.registry_container) is None
    config = settings.state_dir.with_name(settings.state_dir.name + "-config")
    build("^lab-node$", "^registry$")
    lab = Lab(settings, config, local)
    try:
        assert run(["registry", "up", "--image", REGISTRY_IMAGE, "--name", settings.name]) == 0
        for args in builds:
            build(*args, "--push", "127.0.0.1:4000")
        assert run(lab.up_args()) == 0
        shutil.rmtree(config, ignore_errors=True)
        config.mkdir(mode=0o700)
        state = settings.state_dir
        globals_text = (state / "globals.yml").read_text()
        globals_text = globals_text.replace("#docker_registry:", "docker_registry:")
        (config / "globals.yml").write_text(
            globals_text + f"docker_namespace: {NAMESPACE}\n" + globals_extra
        )
        (config / "inventory").write_text((state / "inventory").read_text() + inventory_extra)
        assert run(["genpwd", "-c", str(config)]) == 0
        yield lab
    finally:
        down = ["lab", "down", "--name", settings.name, "--state-dir", str(settings.state_dir)]
        assert run(down) == 0
        if started_registry:
            registry_down(local, settings, volume=True)
        shutil.rmtree(config, ignore_errors=True)
        assert local.containers(f"colla.lab={settings.name}") == []
        assert local.network(settings.network) is None
        assert local.network(settings.external_network) is None
