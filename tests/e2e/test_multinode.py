"""Three lab nodes on this machine: the core cloud on node1, memcached on every node.

A lab of its own (name, subnet and state directory apart from any other lab), images
pushed to the lab registry under the ``colla-lab`` namespace (never ``colla/*``), and
everything the test made removed at the end: the lab, and the registry if the test
started it. Steps depend on each other, so they run as one ordered module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.deploy.specs import LABEL_MANAGED
from colla.engine import ContainerInfo, Engine
from colla.engine.endpoint import Endpoint
from colla.lab.registry import registry_down
from colla.lab.settings import lab_settings

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
NAME = "colla-e2e"
SUBNET = "10.213.50.0/24"  # and .51.0/24 for its second network
NAMESPACE = "colla-lab"
LAB_IMAGE = f"{NAMESPACE}/lab-node:zed"
REGISTRY_IMAGE = f"{NAMESPACE}/registry:zed"
BUILD_LOCK = "/tmp/colla-build.lock"  # shared with every other build on this machine
STATE = Path(os.environ.get("COLLA_E2E_LAB_DIR", "/tmp/colla-e2e-multinode"))
# The test's own config directory: the lab's inventory plus memcached on every node
# (`lab up` rewrites its own inventory, so additions live here).
CONFIG = STATE.with_name(STATE.name + "-config")
SERVICE_GROUPS = "\n[memcached:children]\ncontrol\ncompute\n"
# The core cloud and memcached; compute and network services wait for a lab test of
# their own (they need the full image set in the lab registry).
SERVICES = "enable_nova: false\nenable_neutron: false\nenable_horizon: false\n"
SETTINGS = lab_settings(name=NAME, subnet=SUBNET, nodes=3, state_dir=STATE)


def _build(*args: str) -> None:
    command = ["flock", BUILD_LOCK, str(BIN / "colla"), "build", "--namespace", NAMESPACE]
    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@dataclass(frozen=True)
class Lab:
    """The running lab: its config directory and the engines of this machine and nodes."""

    config_dir: Path
    local: Engine

    def node(self, name: str) -> Engine:
        address = SETTINGS.node_address(name)
        return Engine.connect_endpoint(
            Endpoint(
                name,
                "ssh",
                f"ssh://root@{address}:22",
                host=address,
                port=22,
                user="root",
                key_file=str(STATE / "id_ed25519"),
                known_hosts=str(STATE / "known_hosts"),
            )
        )

    def colla(self, *args: str) -> int:
        return run([*args, "-c", str(self.config_dir)])


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    local = Engine.connect()
    started_registry = local.container("colla-registry") is None
    _build("^lab-node$", "^registry$")
    try:
        assert run(["registry", "up", "--image", REGISTRY_IMAGE, "--name", NAME]) == 0
        _build("--profile", "control", "--push", "127.0.0.1:4000")
        _build("^memcached$", "--tag", "zed-2", "--push", "127.0.0.1:4000")
        up = ["lab", "up", "--nodes", "3", "--name", NAME, "--subnet", SUBNET]
        assert run([*up, "--image", LAB_IMAGE, "--state-dir", str(STATE)]) == 0
        shutil.rmtree(CONFIG, ignore_errors=True)
        CONFIG.mkdir(mode=0o700)
        globals_text = (STATE / "globals.yml").read_text()
        globals_text = globals_text.replace("#docker_registry:", "docker_registry:")
        (CONFIG / "globals.yml").write_text(
            globals_text + f"docker_namespace: {NAMESPACE}\n" + SERVICES
        )
        (CONFIG / "inventory").write_text((STATE / "inventory").read_text() + SERVICE_GROUPS)
        assert run(["genpwd", "-c", str(CONFIG)]) == 0
        yield Lab(CONFIG, local)
    finally:
        assert run(["lab", "down", "--name", NAME, "--state-dir", str(STATE)]) == 0
        if started_registry:
            registry_down(local, SETTINGS, volume=True)
        shutil.rmtree(CONFIG, ignore_errors=True)
        assert local.containers(f"colla.lab={NAME}") == []
        assert local.network(NAME) is None and local.network(f"{NAME}-ext") is None


def _managed(engine: Engine) -> dict[str, ContainerInfo]:
    return {c.name: c for c in engine.containers(f"{LABEL_MANAGED}=true")}


def _started(lab: Lab) -> dict[str, dict[str, str]]:
    nodes = ("node1", "node2", "node3")
    return {n: {k: c.started_at for k, c in _managed(lab.node(n)).items()} for n in nodes}


def test_lab_up_twice_changes_nothing(lab: Lab) -> None:
    before = {c.name: c.started_at for c in lab.local.containers(f"colla.lab={NAME}")}
    up = ["lab", "up", "--nodes", "3", "--name", NAME, "--subnet", SUBNET]
    assert run([*up, "--image", LAB_IMAGE, "--state-dir", str(STATE)]) == 0
    after = {c.name: c.started_at for c in lab.local.containers(f"colla.lab={NAME}")}
    assert before == after and len(after) == 3
    assert (STATE / "id_ed25519").stat().st_mode & 0o777 == 0o600
    assert run(["lab", "down", "--name", "colla-e2e-none", "--state-dir", "/tmp/none"]) == 0


def test_node3_engine_stopped_mid_deploy_then_rerun_completes(
    lab: Lab, capfd: pytest.CaptureFixture[str]
) -> None:
    node3 = f"{NAME}-node3"
    process = subprocess.Popen(
        [str(BIN / "colla"), "deploy", "-c", str(lab.config_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    stopped = False
    for line in process.stdout:
        output.append(line)
        if not stopped and "node3/memcached: create" in line:
            # Once the container exists there, node3's dockerd and sshd go down together.
            engine = lab.node("node3")
            deadline = time.monotonic() + 30
            while engine.container("memcached") is None and time.monotonic() < deadline:
                time.sleep(0.05)
            lab.local.stop(node3, timeout=5)
            stopped = True
    code = process.wait(timeout=900)
    text = "".join(output)
    assert stopped, text
    assert code == 5, text
    error = next(line for line in output if line.startswith("colla: error:"))
    assert error.startswith("colla: error: memcached failed on 1 node(s): node node3: "), error
    assert "done there before: created memcached" in error, error
    # The other nodes are consistent: node2's memcached finished and is healthy.
    assert _managed(lab.node("node2"))["memcached"].health == "healthy"
    assert "keystone" not in _managed(lab.node("node1"))  # nothing started after the failure
    # While node3 is down, a deploy names it and changes nothing.
    assert lab.colla("deploy") == 3
    assert "node3" in capfd.readouterr().err
    lab.local.start(node3)
    deadline = time.monotonic() + 60
    while True:
        try:
            lab.node("node3")
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(1)
    assert lab.colla("deploy") == 0
    assert lab.colla("check") == 0
    names = {n: set(_managed(lab.node(n))) for n in ("node1", "node2", "node3")}
    assert names["node1"] == {
        "mariadb",
        "memcached",
        "rabbitmq",
        "keystone",
        "glance_api",
        "placement_api",
    }
    assert names["node2"] == names["node3"] == {"memcached"}


def test_a_second_deploy_touches_no_node(lab: Lab, capfd: pytest.CaptureFixture[str]) -> None:
    before = {
        n: {k: c.started_at for k, c in _managed(lab.node(n)).items()}
        for n in ("node1", "node2", "node3")
    }
    assert lab.colla("deploy") == 0
    assert "nothing to change" in capfd.readouterr().out
    after = {
        n: {k: c.started_at for k, c in _managed(lab.node(n)).items()}
        for n in ("node1", "node2", "node3")
    }
    assert before == after


def test_upgrade_and_rollback_limited_to_node2(lab: Lab) -> None:
    others = {n: _managed(lab.node(n))["memcached"] for n in ("node1", "node3")}
    old = _managed(lab.node("node2"))["memcached"]
    assert lab.colla("upgrade", "memcached", "--tag", "zed-2", "--limit", "node2") == 0
    new = _managed(lab.node("node2"))["memcached"]
    assert new.labels["colla.spec"] != old.labels["colla.spec"]
    assert ":zed-2" in new.labels["colla.spec"] and new.health == "healthy"
    for node, info in others.items():
        now = _managed(lab.node(node))["memcached"]
        assert (now.id, now.started_at) == (info.id, info.started_at), node
    # A plain deploy keeps node2 on its upgraded tag and the others on theirs.
    assert lab.colla("deploy") == 0
    assert _managed(lab.node("node2"))["memcached"].id == new.id
    assert lab.colla("rollback", "memcached", "--limit", "node2", "--yes") == 0
    back = _managed(lab.node("node2"))["memcached"]
    assert back.labels["colla.spec-hash"] == old.labels["colla.spec-hash"]
    for node, info in others.items():
        assert _managed(lab.node(node))["memcached"].id == info.id, node


def test_an_unknown_limit_is_refused_and_changes_nothing(
    lab: Lab, capfd: pytest.CaptureFixture[str]
) -> None:
    before = {n: set(_managed(lab.node(n))) for n in ("node1", "node2", "node3")}
    assert lab.colla("deploy", "--limit", "node2,node9") == 2
    err = capfd.readouterr().err
    assert "--limit: node(s) node9 not in" in err and err[-1] == "\n" and err.count("\n") == 1
    assert lab.colla("upgrade", "memcached", "--tag", "zed-2", "--limit", "node7") == 2
    assert before == {n: set(_managed(lab.node(n))) for n in ("node1", "node2", "node3")}
