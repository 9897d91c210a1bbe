"""One load and one connect per command: each command reads the project once and reaches
each node's engine once, however many layers below it use them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from colla import session as session_module
from colla.cli.app import run
from colla.deploy import deployment, templates
from colla.deploy import desired as desired_module
from colla.engine import DockerEngine
from colla.engine.endpoint import Endpoint
from colla.errors import ExitStatus
from colla.model.specs import LABEL_MANAGED, LABEL_NODE, LABEL_SERVICE, LABEL_SPEC
from colla.site import load_site
from colla.upgrade import haproxy
from tests.fakes import FakeEngine


@dataclass
class Reached:
    """This machine's engine and the other nodes', and every connection opened."""

    local: FakeEngine
    nodes: dict[str, FakeEngine]
    connects: list[str] = field(default_factory=list)


@pytest.fixture
def two_nodes(config_dir: Path) -> Path:
    """The all-in-one config with its compute service moved to another machine, n2."""
    inventory = config_dir / "inventory"
    here = "localhost ansible_connection=local ansible_host=127.0.0.1"
    text = inventory.read_text().replace(
        f"[compute]\n{here}", "[compute]\nn2 ansible_host=192.0.2.2"
    )
    assert "n2" in text
    inventory.write_text(text)
    return config_dir


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> Reached:
    """Engines are opened on fakes and counted. This machine runs a keystone already."""
    local = FakeEngine("localhost", every_image=True)
    labels = {LABEL_MANAGED: "true", LABEL_SERVICE: "keystone", LABEL_NODE: "localhost"}
    local.add("keystone", labels=labels)
    found = Reached(local, {"n2": FakeEngine("n2", remote=True, every_image=True)})

    def connect(*_: object, **__: object) -> FakeEngine:
        found.connects.append("local")
        return local

    def connect_endpoint(endpoint: Endpoint, *_: object, **__: object) -> FakeEngine:
        found.connects.append(endpoint.node)
        return found.nodes[endpoint.node]

    monkeypatch.setattr(DockerEngine, "connect", staticmethod(connect))
    monkeypatch.setattr(DockerEngine, "connect_endpoint", staticmethod(connect_endpoint))
    # These read this machine itself, not an engine: a cloud running here (or a small
    # disk) would fail them.
    for check in ("check_ports", "check_host_resources", "check_host_features"):
        monkeypatch.setattr(deployment, check, lambda *_: [])
    # An upgrade's functional check and HAProxy calls would reach whatever cloud answers
    # on this machine.
    monkeypatch.setattr(session_module, "functional_check", lambda *_: "ok")
    monkeypatch.setattr(haproxy, "admin", _no_haproxy)
    return found


def _no_haproxy(*_: object) -> str:
    raise AssertionError("HAProxy was asked")


COMMANDS = [
    ["plan"],
    ["prechecks"],
    ["deploy"],
    ["status"],
    ["logs", "keystone"],
    ["audit", "--json"],
    ["stop"],
    ["destroy", "--volumes", "--yes-i-really-mean-it"],
    ["prune", "--keep", "1"],
    ["upgrade", "keystone", "--tag", "zed-2"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_a_command_loads_once_and_connects_each_engine_once(
    args: list[str], two_nodes: Path, loads: list[Path], reached: Reached
) -> None:
    status = run([*args, "-c", str(two_nodes)])
    # audit reports the fakes' containers as differing from the catalog: that is its
    # answer, not a failure to reach them.
    assert status == (ExitStatus.ERROR if args[0] == "audit" else ExitStatus.OK)
    assert loads == [two_nodes]
    assert sorted(reached.connects) == ["local", "n2"]


def test_a_deploy_reaches_both_nodes_through_the_one_connection(
    two_nodes: Path, reached: Reached
) -> None:
    assert run(["deploy", "-c", str(two_nodes)]) == ExitStatus.OK
    assert reached.connects.count("n2") == 1
    made = {c.split()[1] for c in reached.nodes["n2"].calls if c.startswith("create ")}
    assert "nova_compute" in made
    assert reached.local.state("keystone") == "running"


def test_an_upgrade_renders_only_the_service_it_upgrades(
    two_nodes: Path, reached: Reached, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    real = templates.ServiceRenderer.__init__

    def counted(self: templates.ServiceRenderer, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        rendered.append(self.service.name)

    monkeypatch.setattr(templates.ServiceRenderer, "__init__", counted)
    assert run(["upgrade", "keystone", "--tag", "zed-2", "-c", str(two_nodes)]) == 0
    # Keystone as it runs, then at its new tag; the databases task renders with MariaDB's
    # templates. Nothing else of the cloud.
    assert set(rendered) <= {"keystone", "mariadb"} and "keystone" in rendered


def test_an_upgrade_renders_its_service_once_when_history_knows_it(
    two_nodes: Path, reached: Reached, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deploy records every container in history: the upgrade has nothing to adopt,
    # so it renders Keystone's containers at the new tag only, not also as they run.
    assert run(["deploy", "-c", str(two_nodes)]) == ExitStatus.OK
    rendered: list[frozenset[str] | None] = []
    real = desired_module.desired_state

    def counted(*args: Any) -> Any:
        rendered.append(args[-1])
        return real(*args)

    monkeypatch.setattr(deployment, "desired_state", counted)
    assert run(["upgrade", "keystone", "--tag", "zed-2", "-c", str(two_nodes)]) == 0
    assert rendered == [frozenset({"keystone"})]


def test_an_upgrade_without_a_service_upgrades_each_enabled_one_in_dependency_order(
    two_nodes: Path, reached: Reached, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["deploy", "-c", str(two_nodes)]) == ExitStatus.OK
    capsys.readouterr()
    assert run(["upgrade", "--tag", "zed-2", "-c", str(two_nodes)]) == ExitStatus.OK
    done = [
        line.split(":")[0]
        for line in capsys.readouterr().out.splitlines()
        if ": upgraded to zed-2" in line
    ]
    site = load_site(two_nodes)
    enabled = {n for n, on in site.project.globals.enabled.items() if on}
    assert done == [name for level in site.catalog.levels(enabled) for name in level]
    assert {"mariadb", "keystone", "glance", "placement", "nova", "neutron"} <= set(done)
    # Every container of the cloud runs at the new tag, on both nodes.
    for engine in (reached.local, *reached.nodes.values()):
        for name, stored in engine.stored.items():
            labels = stored.info.labels
            if labels.get(LABEL_MANAGED) == "true" and LABEL_SPEC in labels:
                assert json.loads(labels[LABEL_SPEC])["image"].endswith(":zed-2"), name
