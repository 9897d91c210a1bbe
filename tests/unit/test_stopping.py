"""``colla stop``'s order: dependents first, each dependency level at once."""

from __future__ import annotations

import threading

import pytest

from colla.catalog import load_services
from colla.deploy.stopping import stop_in_order, stop_levels
from colla.engine import ContainerInfo
from colla.errors import CollaError
from colla.model.specs import LABEL_NODE, LABEL_SERVICE
from tests.fakes import FakeEngine

CLOUD = {
    "mariadb": "mariadb",
    "rabbitmq": "rabbitmq",
    "keystone": "keystone",
    "neutron_server": "neutron",
    "neutron_dhcp_agent": "neutron_agents",
    "nova_compute": "nova_compute",
    "stray": "not-in-the-catalog",
}


def _cloud() -> tuple[FakeEngine, list[tuple[FakeEngine, ContainerInfo]]]:
    engine = FakeEngine("node1")
    for name, service in CLOUD.items():
        engine.add(name, labels={LABEL_SERVICE: service, LABEL_NODE: "node1"})
    engine.add("stopped", state="exited", labels={LABEL_SERVICE: "memcached"})
    return engine, [(engine, c) for c in engine.containers(LABEL_SERVICE)]


def test_dependents_stop_before_what_they_depend_on() -> None:
    _, found = _cloud()
    order = [sorted(c.name for _, c in level) for level in stop_levels(found, load_services())]
    position = {name: i for i, level in enumerate(order) for name in level}
    assert position["stray"] == 0  # nothing colla deploys depends on it
    assert position["neutron_dhcp_agent"] < position["neutron_server"] < position["keystone"]
    assert position["nova_compute"] < position["rabbitmq"]
    assert position["keystone"] < position["mariadb"]


def test_each_level_stops_at_once_and_only_running_containers() -> None:
    engine, found = _cloud()
    # mariadb and rabbitmq depend on nothing: the last level. Each waits for the other,
    # so stopping them one after the other breaks the barrier.
    barrier = threading.Barrier(2, timeout=5)

    def stop(e: FakeEngine, c: ContainerInfo) -> None:
        if c.name in ("mariadb", "rabbitmq"):
            barrier.wait()
        e.stop(c.name)

    done = stop_in_order(found, load_services(), stop)
    assert set(done) == {f"node1/{name}" for name in CLOUD}
    assert done[-2:] == ["node1/mariadb", "node1/rabbitmq"]
    assert "stop stopped" not in engine.calls
    assert all(engine.state(name) == "exited" for name in CLOUD)


def test_a_failed_stop_names_it_and_stops_no_further_level() -> None:
    engine, found = _cloud()
    engine.fail_on = "stop keystone"
    with pytest.raises(CollaError, match=r"^stopping node1/keystone: stop keystone: .*; stopped: "):
        stop_in_order(found, load_services(), lambda e, c: e.stop(c.name))
    assert engine.state("mariadb") == "running"
    assert engine.state("neutron_dhcp_agent") == "exited"
