"""The full cloud on a 3-node lab: control and network services on node1, nova-compute
(with libvirt) and the Linux bridge agent on node2 and node3.

Both computes report up; nova_compute is upgraded on node2 only (``--limit``) while
node3 keeps running untouched, then rolled back. The lab is removed at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from colla.lab.settings import lab_settings
from tests.e2e.conftest import openstack
from tests.e2e.labs import Lab, managed, running_lab

pytestmark = pytest.mark.e2e

NAME = "colla-e2e-full"
SUBNET = "10.213.52.0/24"  # and .53.0/24 for its second network
STATE = Path(os.environ.get("COLLA_E2E_FULL_LAB_DIR", "/tmp/colla-e2e-multinode-full"))
SETTINGS = lab_settings(name=NAME, subnet=SUBNET, nodes=3, state_dir=STATE)
COMPUTE = ("nova_compute", "nova_libvirt")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    builds = [["--profile", "core"], ["^nova-", "--tag", "zed-2"]]
    with running_lab(SETTINGS, "", "", builds) as made:
        yield made


COMPUTES = ("compute", "service", "list", "-c", "Binary", "-c", "Host", "-c", "State")
AGENTS = ("network", "agent", "list", "-c", "Agent Type", "-c", "Host", "-c", "Alive")


def _wait_for(lab: Lab, what: tuple[str, ...], check: tuple[str, ...]) -> str:
    """Until every line of ``check`` appears in an ``openstack`` listing (3 min at most)."""
    deadline = time.monotonic() + 180
    while True:
        text = openstack(lab.config_dir, *what, "-f", "value")
        if all(line in text for line in check):
            return text
        assert time.monotonic() < deadline, f"openstack {' '.join(what)}:\n{text}"
        time.sleep(5)


def test_both_computes_and_every_bridge_agent_come_up(lab: Lab) -> None:
    assert lab.colla("deploy") == 0
    assert lab.colla("post-deploy") == 0
    for node in ("node2", "node3"):
        assert set(COMPUTE) <= set(managed(lab.node(node))), node
    assert not set(COMPUTE) & set(managed(lab.node("node1")))
    _wait_for(
        lab,
        COMPUTES,
        ("nova-compute node2 up", "nova-compute node3 up"),
    )
    _wait_for(
        lab,
        AGENTS,
        tuple(f"Linux bridge agent node{i} True" for i in (1, 2, 3)),
    )


def test_nova_compute_upgraded_and_rolled_back_on_node2_only(lab: Lab) -> None:
    node3 = {name: managed(lab.node("node3"))[name] for name in COMPUTE}
    old = {name: managed(lab.node("node2"))[name] for name in COMPUTE}
    assert lab.colla("upgrade", "nova_compute", "--tag", "zed-2", "--limit", "node2") == 0
    new = {name: managed(lab.node("node2"))[name] for name in COMPUTE}
    for name in COMPUTE:
        assert ":zed-2" in new[name].labels["colla.spec"], name
        now = managed(lab.node("node3"))[name]
        assert (now.id, now.started_at) == (node3[name].id, node3[name].started_at), name
    _wait_for(
        lab,
        COMPUTES,
        ("nova-compute node2 up", "nova-compute node3 up"),
    )
    assert lab.colla("rollback", "nova_compute", "--limit", "node2", "--yes") == 0
    for name in COMPUTE:
        back = managed(lab.node("node2"))[name]
        assert back.labels["colla.spec-hash"] == old[name].labels["colla.spec-hash"], name
        assert managed(lab.node("node3"))[name].id == node3[name].id, name
