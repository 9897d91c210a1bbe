"""One load per command: the CLI loads the site once at the edge and passes it down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from colla.cli import console
from colla.cli.app import run
from colla.deploy import deployment
from colla.engine import DockerEngine, Engine
from colla.errors import EngineError, ExitStatus
from colla.site import load_site
from tests.fakes import FakeEngine


def test_the_site_derives_topology_and_enabled_services_once(
    config_dir: Path, loads: list[Path]
) -> None:
    site = load_site(config_dir)
    assert loads == [config_dir]
    assert site.topology is site.topology
    assert "keystone" in site.enabled
    assert site.config_dir == config_dir


def test_plan_loads_the_project_once_and_lists_every_step(
    config_dir: Path,
    loads: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeEngine("localhost", every_image=True)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: fake))
    # Wide enough that no name is folded across lines of the table.
    monkeypatch.setattr(console.out, "width", 240)
    assert run(["plan", "-c", str(config_dir)]) == ExitStatus.OK
    assert loads == [config_dir]
    # The steps beside the containers: a fresh site's volumes, config directories and
    # bootstrap tasks, each named.
    printed = capsys.readouterr().out
    for words in ("create volume", "write config", "bootstrap", "keystone-bootstrap"):
        assert words in printed
    # The summary line counts them (failed prechecks, such as busy ports, may follow it).
    assert any(" create; steps: " in line for line in printed.splitlines())


@pytest.mark.parametrize(
    "args",
    [["prechecks"], ["deploy"], ["upgrade", "keystone", "--tag", "zed-2"], ["audit"]],
    ids=lambda a: a[0],
)
def test_commands_load_the_project_once_before_the_engine(
    args: list[str], config_dir: Path, loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> Engine:
        raise EngineError("the Docker engine does not answer")

    monkeypatch.setattr(DockerEngine, "connect", staticmethod(unreachable))
    assert run([*args, "-c", str(config_dir)]) != ExitStatus.OK
    assert loads == [config_dir]


def test_desired_takes_the_site_and_reuses_connected_engines(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = load_site(config_dir)

    def never(*_: Any) -> Any:
        raise AssertionError("engines were connected again")

    monkeypatch.setattr(deployment, "engines_for", never)
    fake = FakeEngine("localhost", every_image=True)
    wanted = deployment.desired(site, fake, deployment.DesiredOptions(), {"localhost": fake})
    assert wanted.site is site
    assert wanted.engines == {"localhost": fake}
    assert wanted.nodes["localhost"].containers


@pytest.mark.parametrize("command", ["k8s", "compose"])
def test_exports_reach_no_node(
    command: str,
    config_dir: Path,
    tmp_path: Path,
    loads: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two nodes, neither of them this machine: writing files must not reach them.
    (config_dir / "inventory").write_text(
        "[control]\nn1 ansible_host=192.0.2.1\n[network:children]\ncontrol\n"
        "[compute]\nn2 ansible_host=192.0.2.2\n"
    )
    globals_file = config_dir / "globals.yml"
    globals_file.write_text(
        globals_file.read_text().replace('vip_address: "127.0.0.1"', 'vip_address: "192.0.2.1"')
    )

    def unreachable(*_: Any, **__: Any) -> Any:
        raise AssertionError("a node was reached")

    monkeypatch.setattr(deployment, "engines_for", unreachable)
    monkeypatch.setattr(DockerEngine, "connect_endpoint", staticmethod(unreachable))
    fake = FakeEngine("localhost", every_image=True)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: fake))
    output = tmp_path / "out"
    assert run([command, "-o", str(output), "-c", str(config_dir)]) == ExitStatus.OK
    assert loads == [config_dir]
    assert any(output.iterdir())


def test_an_upgrade_renders_the_pinned_state_once_then_the_new_tag(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from colla.history.store import History
    from colla.upgrade import operations
    from colla.upgrade.swap import record_revision

    site = load_site(config_dir)
    fake = FakeEngine("localhost", every_image=True)
    engines = {"localhost": fake}
    # Glance runs an upgraded tag, so the running state carries a history pin.
    glance = next(
        s
        for s in deployment.desired(site, fake, deployment.DesiredOptions(), engines)
        .nodes["localhost"]
        .containers
        if s.service == "glance"
    )
    history = History(config_dir / "history.db")
    record_revision(
        history,
        replace(glance, image=glance.image.rpartition(":")[0] + ":older"),
        operation="upgrade",
        status="healthy",
        command="c",
    )
    calls: list[deployment.DesiredOptions] = []
    real = deployment.desired

    def counted(*args: Any) -> Any:
        calls.append(args[2])
        return real(*args)

    def never(*_: Any) -> Any:
        raise AssertionError("engines were connected again")

    monkeypatch.setattr(operations, "desired", counted)
    monkeypatch.setattr(deployment, "engines_for", never)
    try:
        plan = operations.upgrade_plan(site, fake, history, "keystone", "zed-2", "c", None, engines)
    finally:
        history.close()
    assert [dict(c.tags) for c in calls] == [{}, {"keystone": "zed-2"}]
    assert all(c.node_tags == {("localhost", "glance"): "older"} for c in calls)
    assert all(s.image.endswith(":zed-2") for s in plan.new)


def test_plan_renders_the_cloud_once(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refusal of foreign config directories (before any engine) and the plan share
    # one rendering.
    from colla import site as site_module
    from colla.deploy import desired

    calls: list[object] = []
    real = desired.desired_state

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(site_module, "desired_state", counted, raising=False)
    monkeypatch.setattr(deployment, "desired_state", counted)
    fake = FakeEngine("localhost", every_image=True)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: fake))
    assert run(["plan", "-c", str(config_dir)]) == ExitStatus.OK
    assert len(calls) == 1
