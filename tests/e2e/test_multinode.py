"""Three lab nodes on this machine: the control services on node1, memcached on every node.

A lab of its own (name, subnet and state directory apart from any other lab), images
pushed to the lab registry under the ``colla-lab`` namespace (never ``colla/*``), and
everything the test made removed at the end: the lab, and the registry if the test
started it. Steps depend on each other, so they run as one ordered module.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.lab.settings import lab_settings
from tests.e2e.labs import BIN, Lab, managed, running_lab

pytestmark = pytest.mark.e2e

NAME = "colla-e2e"
SUBNET = "10.213.50.0/24"  # and .51.0/24 for its second network
STATE = Path(os.environ.get("COLLA_E2E_LAB_DIR", "/tmp/colla-e2e-multinode"))
SETTINGS = lab_settings(name=NAME, subnet=SUBNET, nodes=3, state_dir=STATE)
# memcached on every node (the inventory's own group for it), the control services on
# node1; compute and network services are the full-cloud test's (test_multinode_full).
SERVICE_GROUPS = "\n[memcached:children]\ncontrol\ncompute\n"
SERVICES = "enable_nova: false\nenable_neutron: false\nenable_horizon: false\n"
NODES = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    builds = [["--profile", "control"], ["^memcached$", "--tag", "zed-2"]]
    with running_lab(SETTINGS, SERVICES, SERVICE_GROUPS, builds) as made:
        yield made


def _started(lab: Lab) -> dict[str, dict[str, str]]:
    return {n: {k: c.started_at for k, c in managed(lab.node(n)).items()} for n in NODES}


def test_lab_up_twice_changes_nothing(lab: Lab) -> None:
    before = {c.name: c.started_at for c in lab.local.containers(f"colla.lab={NAME}")}
    assert run(lab.up_args()) == 0
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
            # Once the container exists there, node3's dockerd and sshd go down together,
            # at once (SIGKILL): a graceful stop takes long enough for memcached to
            # become healthy first, and the deploy would then succeed.
            engine = lab.node("node3")
            deadline = time.monotonic() + 30
            while engine.container("memcached") is None and time.monotonic() < deadline:
                time.sleep(0.05)
            lab.local.stop(node3, timeout=0)
            stopped = True
    code = process.wait(timeout=900)
    text = "".join(output)
    assert stopped, text
    assert code == 5, text
    error = next(line for line in output if line.startswith("colla: error:"))
    assert error.startswith("colla: error: memcached failed on 1 node(s): node node3: "), error
    assert "done there before: created memcached" in error, error
    # The other nodes are consistent: node2's memcached finished and is healthy.
    assert managed(lab.node("node2"))["memcached"].health == "healthy"
    assert "keystone" not in managed(lab.node("node1"))  # nothing started after the failure
    # While node3 is down, a deploy names it and changes nothing.
    assert lab.colla("deploy") == 3
    assert "node3" in capfd.readouterr().err
    lab.local.start(node3)
    lab.wait_for_node("node3")
    assert lab.colla("deploy") == 0
    assert lab.colla("check") == 0
    names = {n: set(managed(lab.node(n))) for n in ("node1", "node2", "node3")}
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
    before = _started(lab)
    assert lab.colla("deploy") == 0
    assert "nothing to change" in capfd.readouterr().out
    assert _started(lab) == before


def test_upgrade_and_rollback_limited_to_node2(lab: Lab) -> None:
    others = {n: managed(lab.node(n))["memcached"] for n in ("node1", "node3")}
    old = managed(lab.node("node2"))["memcached"]
    assert lab.colla("upgrade", "memcached", "--tag", "zed-2", "--limit", "node2") == 0
    new = managed(lab.node("node2"))["memcached"]
    assert new.labels["colla.spec"] != old.labels["colla.spec"]
    assert ":zed-2" in new.labels["colla.spec"] and new.health == "healthy"
    for node, info in others.items():
        now = managed(lab.node(node))["memcached"]
        assert (now.id, now.started_at) == (info.id, info.started_at), node
    # A plain deploy keeps node2 on its upgraded tag and the others on theirs.
    assert lab.colla("deploy") == 0
    assert managed(lab.node("node2"))["memcached"].id == new.id
    assert lab.colla("rollback", "memcached", "--limit", "node2", "--yes") == 0
    back = managed(lab.node("node2"))["memcached"]
    assert back.labels["colla.spec-hash"] == old.labels["colla.spec-hash"]
    for node, info in others.items():
        assert managed(lab.node(node))["memcached"].id == info.id, node


def test_an_unknown_limit_is_refused_and_changes_nothing(
    lab: Lab, capfd: pytest.CaptureFixture[str]
) -> None:
    before = {n: set(managed(lab.node(n))) for n in ("node1", "node2", "node3")}
    assert lab.colla("deploy", "--limit", "node2,node9") == 2
    err = capfd.readouterr().err
    assert "--limit: node(s) node9 not in" in err and err[-1] == "\n" and err.count("\n") == 1
    assert lab.colla("upgrade", "memcached", "--tag", "zed-2", "--limit", "node7") == 2
    assert before == {n: set(managed(lab.node(n))) for n in ("node1", "node2", "node3")}
