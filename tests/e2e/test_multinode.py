"""The full cloud on a 3-node lab: control and network services on node1, nova-compute
(with libvirt) and the Linux bridge agent on node2 and node3, memcached on every node.

One lab for every multi-node test (its setup is the suite's most costly step): its own
name, subnet and state directory apart from any other lab, images pushed to the lab
registry under the ``colla-lab`` namespace (never ``colla/*``), and everything the tests
made removed at the end: the lab, and the registry if the module started it. The first
deploy is interrupted by losing node3; the rest run on the cloud that the re-run makes.
Steps depend on each other, so they run as one ordered module.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import ContainerInfo
from colla.lab.settings import lab_settings
from tests.e2e.conftest import openstack
from tests.e2e.labs import BIN, NAMESPACE, Lab, managed, running_lab
from tests.e2e.test_upgrade_nova import NOVA_IMAGES

pytestmark = pytest.mark.e2e

NAME = "colla-e2e"
SUBNET = "10.213.50.0/24"  # and .51.0/24 for its second network
STATE = Path(os.environ.get("COLLA_E2E_LAB_DIR", "/tmp/colla-e2e-multinode"))
SETTINGS = lab_settings(name=NAME, subnet=SUBNET, nodes=3, state_dir=STATE)
# memcached on every node (the inventory's own group for it); the lab's inventory puts
# control and network on node1 and compute on the others.
SERVICE_GROUPS = "\n[memcached:children]\ncontrol\ncompute\n"
NODES = ("node1", "node2", "node3")
COMPUTE = ("nova_compute", "nova_libvirt")
ON_A_COMPUTE = {"memcached", "nova_compute", "nova_libvirt", "neutron_linuxbridge_agent"}
COMPUTES = ("compute", "service", "list", "-c", "Binary", "-c", "Host", "-c", "State")
AGENTS = ("network", "agent", "list", "-c", "Agent Type", "-c", "Host", "-c", "Alive")


UPGRADED = ("memcached", *NOVA_IMAGES)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # The upgrade tag is one layer on top of each built image (its footer), so the engine
    # runs a different image after an upgrade and nothing below the footer is rebuilt.
    override = tmp_path_factory.mktemp("lab") / "upgrade.j2"
    override.write_text(
        "".join(
            "{% block " + name.replace("-", "_") + "_footer %}"
            "RUN echo colla-upgrade-test > /etc/colla-upgrade{% endblock %}\n"
            for name in UPGRADED
        )
    )
    upgrade = ["--tag", "zed-2", "--template-override", str(override)]
    builds = [["--profile", "core"], ["^nova-", *upgrade], ["^memcached$", *upgrade]]
    with running_lab(SETTINGS, "", SERVICE_GROUPS, builds) as made:
        yield made


def _started(lab: Lab) -> dict[str, dict[str, str]]:
    return {n: {k: c.started_at for k, c in managed(lab.node(n)).items()} for n in NODES}


def _wait_for(lab: Lab, what: tuple[str, ...], check: tuple[str, ...]) -> str:
    """Until every line of ``check`` appears in an ``openstack`` listing (3 min at most)."""
    deadline = time.monotonic() + 180
    while True:
        text = openstack(lab.config_dir, *what, "-f", "value")
        if all(line in text for line in check):
            return text
        assert time.monotonic() < deadline, f"openstack {' '.join(what)}:\n{text}"
        time.sleep(5)


def _computes_up(lab: Lab) -> None:
    _wait_for(lab, COMPUTES, ("nova-compute node2 up", "nova-compute node3 up"))


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
    names = {n: set(managed(lab.node(n))) for n in NODES}
    assert {"mariadb", "memcached", "rabbitmq", "keystone", "neutron_server"} <= names["node1"]
    assert not set(COMPUTE) & names["node1"]
    assert names["node2"] == names["node3"] == ON_A_COMPUTE


def test_both_computes_and_every_bridge_agent_come_up(lab: Lab) -> None:
    assert lab.colla("post-deploy") == 0
    _computes_up(lab)
    _wait_for(lab, AGENTS, tuple(f"Linux bridge agent node{i} True" for i in (1, 2, 3)))
    assert lab.colla("check") == 0


def test_a_second_deploy_touches_no_node(lab: Lab, capfd: pytest.CaptureFixture[str]) -> None:
    before = _started(lab)
    assert lab.colla("deploy") == 0
    assert "nothing to change" in capfd.readouterr().out
    assert _started(lab) == before


def _same(now: ContainerInfo, then: ContainerInfo) -> bool:
    return (now.id, now.started_at) == (then.id, then.started_at)


def test_memcached_upgraded_and_rolled_back_on_node2_only(lab: Lab) -> None:
    others = {n: managed(lab.node(n))["memcached"] for n in ("node1", "node3")}
    old = managed(lab.node("node2"))["memcached"]
    assert lab.colla("upgrade", "memcached", "--tag", "zed-2", "--limit", "node2") == 0
    new = managed(lab.node("node2"))["memcached"]
    # The engine runs another image there now; the other nodes' containers are untouched.
    assert new.image_id != old.image_id and new.health == "healthy"
    assert ":zed-2" in new.labels["colla.spec"]
    for node, info in others.items():
        assert _same(managed(lab.node(node))["memcached"], info), node
    # A plain deploy keeps node2 on its upgraded tag and the others on theirs.
    assert lab.colla("deploy") == 0
    assert managed(lab.node("node2"))["memcached"].id == new.id
    assert lab.colla("rollback", "memcached", "--limit", "node2", "--yes") == 0
    back = managed(lab.node("node2"))["memcached"]
    assert back.image_id == old.image_id
    assert back.labels["colla.spec-hash"] == old.labels["colla.spec-hash"]
    for node, info in others.items():
        assert managed(lab.node(node))["memcached"].id == info.id, node


def test_nova_compute_upgraded_and_rolled_back_on_node2_only(lab: Lab) -> None:
    node3 = {name: managed(lab.node("node3"))[name] for name in COMPUTE}
    old = {name: managed(lab.node("node2"))[name] for name in COMPUTE}
    assert lab.colla("upgrade", "nova_compute", "--tag", "zed-2", "--limit", "node2") == 0
    new = {name: managed(lab.node("node2"))[name] for name in COMPUTE}
    for name in COMPUTE:
        assert new[name].image_id != old[name].image_id, name
        assert ":zed-2" in new[name].labels["colla.spec"], name
        assert _same(managed(lab.node("node3"))[name], node3[name]), name
    _computes_up(lab)
    assert lab.colla("rollback", "nova_compute", "--limit", "node2", "--yes") == 0
    for name in COMPUTE:
        back = managed(lab.node("node2"))[name]
        assert back.image_id == old[name].image_id, name
        assert back.labels["colla.spec-hash"] == old[name].labels["colla.spec-hash"], name
        assert managed(lab.node("node3"))[name].id == node3[name].id, name
    _computes_up(lab)


def test_an_unknown_limit_is_refused_and_changes_nothing(
    lab: Lab, capfd: pytest.CaptureFixture[str]
) -> None:
    before = {n: set(managed(lab.node(n))) for n in NODES}
    assert lab.colla("deploy", "--limit", "node2,node9") == 2
    err = capfd.readouterr().err
    assert "--limit: node(s) node9 not in" in err and err[-1] == "\n" and err.count("\n") == 1
    assert lab.colla("upgrade", "memcached", "--tag", "zed-2", "--limit", "node7") == 2
    assert before == {n: set(managed(lab.node(n))) for n in NODES}


def test_images_send_streams_an_image_once(lab: Lab, capfd: pytest.CaptureFixture[str]) -> None:
    # Without a registry: node3 never ran the upgrade tag, so it lacks this image.
    ref = f"{NAMESPACE}/memcached:zed-2"
    here = lab.local.image(ref)
    assert here is not None and lab.node("node3").image(ref) is None
    assert lab.colla("images", "send", "--node", "node3", ref) == 0
    assert "node3: sent 1 image(s)" in capfd.readouterr().out
    there = lab.node("node3").image(ref)
    assert there is not None and there.id == here.id
    assert lab.colla("images", "send", "--node", "node3", ref) == 0
    assert "sent 0 image(s)" in capfd.readouterr().out
