"""The applier across nodes, on fake engines: parallel work, and failures that name the
node and what had been done there."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import docker.types
import pytest

from colla.catalog import load_services
from colla.deploy.apply import Applier
from colla.deploy.executor import Executor
from colla.deploy.plan import Action, Change, Plan, make_plan
from colla.deploy.steps import StepKind
from colla.engine import ContainerInfo
from colla.engine.containers import log_config
from colla.errors import DeployFailed
from colla.model.specs import ContainerSpec, NodeSpecs
from tests.fakes import FakeEngine, task_spec
from tests.unit.test_plan import spec


def _memcached(node: str, config_root: Path) -> ContainerSpec:
    made = spec({"name": "memcached", "service": "memcached", "node": node})
    return ContainerSpec(**{**vars(made), "config_dir": str(config_root / node / "memcached")})


def _apply(engines: dict[str, FakeEngine], tmp_path: Path) -> None:
    specs = {n: _memcached(n, tmp_path) for n in engines}
    nodes = {n: NodeSpecs(n, (s,), {}) for n, s in specs.items()}
    applier = Applier(Executor(engines, print, 10), load_services())
    applier.apply(make_plan(nodes, {}, {"memcached"}))


def test_each_node_gets_its_container_and_remote_config_goes_through_its_engine(
    tmp_path: Path,
) -> None:
    engines = {"node1": FakeEngine("node1"), "node2": FakeEngine("node2", remote=True)}
    _apply(engines, tmp_path)
    assert (tmp_path / "node1" / "memcached" / "main.conf").read_text() == "x = 1\n"
    assert not (tmp_path / "node2").exists()
    assert f"write {tmp_path}/node2/memcached" in engines["node2"].calls
    for engine in engines.values():
        assert {"create memcached", "start memcached"} <= set(engine.calls)


def test_a_failing_node_is_named_with_what_was_done_there(tmp_path: Path) -> None:
    engines = {
        "node1": FakeEngine("node1", remote=True),
        "node2": FakeEngine("node2", remote=True, fail_on="start"),
    }
    with pytest.raises(DeployFailed) as e:
        _apply(engines, tmp_path)
    message = str(e.value)
    assert message.startswith("memcached failed on 1 node(s): node node2: start memcached:")
    assert message.endswith("; done there before: created memcached")
    # The other node's work on the service completed.
    assert engines["node1"].state("memcached") == "running"


def _ports(busy: set[int], remote: bool = True) -> FakeEngine:
    """An engine whose port-check container answers that ``busy`` ports are in use."""
    answer = (0, "".join(f"{p}\n" for p in sorted(busy)))
    return FakeEngine("node2", remote=remote, results={"colla-portcheck-node2": answer})


def test_ports_on_other_nodes_are_asked_through_their_engines(tmp_path: Path) -> None:
    from colla.deploy.nodes import check_remote_ports

    made = spec({"name": "memcached", "service": "memcached", "node": "node2"})
    wanted = ContainerSpec(**{**vars(made), "ports": (11211,)})
    plan = Plan((Change(Action.CREATE, "node2", "memcached", "memcached", ("new",), wanted),))
    busy, free = _ports({11211}), _ports(set())
    addresses = {"node2": "10.0.0.2"}
    [check] = check_remote_ports(plan, addresses, {"node2": busy})
    assert (check.name, check.ok) == ("port 11211 on node2", False)
    assert "10.0.0.2:11211 needed by memcached is already in use" in check.detail
    request = busy.ran[0]
    assert request.network == "host" and "/dev/tcp/10.0.0.2/$p" in " ".join(request.command or ())
    [check] = check_remote_ports(plan, addresses, {"node2": free})
    assert check.ok
    # A local node's ports are checked directly, not through a container.
    local = _ports({11211}, remote=False)
    assert check_remote_ports(plan, addresses, {"node2": local}) == []


def test_the_engine_asks_docker_for_a_rotated_json_file_log() -> None:
    # HostConfig is what create_host_config builds; made here without a daemon.
    host = docker.types.HostConfig(version="1.43", log_config=log_config(("10m", 3)))
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3"},
    }
    assert log_config(None) is None


@dataclass
class KeystoneWaits(FakeEngine):
    """Keystone serves only once neutron's schema step has run: a deploy that held that
    step back until keystone served would time out."""

    def _held(self, name: str) -> bool:
        return name == "keystone" and "run colla-task-neutron-db-sync" not in self.calls

    def container(self, name: str) -> ContainerInfo | None:
        found = super().container(name)
        if found is not None and self._held(name):
            return replace(found, health="starting")
        return found

    def probe_health(self, name: str) -> bool | None:
        return False if self._held(name) else super().probe_health(name)


def test_early_steps_run_before_the_services_the_others_wait_for(tmp_path: Path) -> None:
    engine = KeystoneWaits("node1")
    containers = tuple(
        replace(spec({"name": n, "service": s, "node": "node1"}), config_dir=str(tmp_path / n))
        for n, s in (
            ("mariadb", "mariadb"),
            ("keystone", "keystone"),
            ("neutron_server", "neutron"),
        )
    )
    names = ("neutron-databases", "neutron-db-sync", "neutron-register")
    tasks = {
        "neutron": tuple(replace(task_spec(n, "node1", tmp_path), service="neutron") for n in names)
    }
    node = NodeSpecs("node1", containers, tasks, {}, {"neutron": 2})
    plan = make_plan({"node1": node}, {}, {"mariadb", "keystone", "neutron"})
    kinds = [(s.kind, s.target) for s in plan.steps if s.kind in (StepKind.EARLY, StepKind.TASK)]
    assert kinds == [
        (StepKind.EARLY, "neutron-databases"),
        (StepKind.EARLY, "neutron-db-sync"),
        (StepKind.TASK, "neutron-register"),
    ]
    Applier(Executor({"node1": engine}, print, 10), load_services()).apply(plan)
    order = [c for c in engine.calls if c.startswith(("run ", "create ", "start "))]
    assert order.index("start mariadb") < order.index("run colla-task-neutron-databases")
    db_sync, register = "run colla-task-neutron-db-sync", "run colla-task-neutron-register"
    assert order.index(db_sync) < order.index(register)
    # The registration still waits for the identity service, and the server for it.
    assert order.index("start keystone") < order.index(register)
    assert order.index(register) < order.index("create neutron_server")
    # The early steps run in the background: a low CPU weight, the others the default.
    shares = {r.name.removeprefix("colla-task-"): r.cpu_shares for r in engine.ran}
    assert shares == {"neutron-databases": 64, "neutron-db-sync": 64, "neutron-register": None}
