"""One changing command at a time, and every cloud command against the inventory of -i."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from colla import site as site_module
from colla.cli.app import run
from colla.errors import BadInput, ExitStatus
from colla.history.store import History
from colla.lab.files import ensure_state_dir
from colla.lock import locked
from colla.site import load_site
from colla.upgrade import operations
from colla.upgrade.operations import rollback_plan, upgrade_plan

CHANGING = [
    ["stop"],
    ["destroy", "--yes-i-really-mean-it"],
    ["genpwd"],
    ["post-deploy"],
    ["prune", "--keep", "1"],
    ["images", "send", "--node", "node1"],
    ["upgrade", "--tag", "zed-2"],
    ["rollback", "keystone"],
    ["recover"],
    ["deploy"],
]


@pytest.mark.parametrize("args", CHANGING, ids=lambda a: " ".join(a[:2]))
def test_a_changing_command_waits_for_the_one_holding_the_lock(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with locked(tmp_path, "colla deploy -c /x"):
        assert run([*args, "-c", str(tmp_path)]) == ExitStatus.BAD_INPUT
    err = capsys.readouterr().err.replace("\n", " ")
    assert f"another colla command (`colla deploy -c /x`, pid {os.getpid()}) is changing" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["up", "down"])
def test_lab_commands_take_the_lock_of_the_labs_config_dir(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    ensure_state_dir(state)
    with locked(state, "colla lab up"):
        assert run(["lab", command, "--state-dir", str(state)]) == ExitStatus.BAD_INPUT
    assert "another colla command (`colla lab up`" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["upgrade", "rollback", "recover", "prune", "history"])
def test_cloud_commands_take_an_inventory(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([command, "--help"]) == 0
    assert "--inventory" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["upgrade", "--tag", "zed-2"],
        ["rollback", "keystone"],
        ["recover"],
        ["prune", "--keep", "1"],
    ],
    ids=lambda a: a[0],
)
def test_the_session_loads_the_inventory_given_with_i(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[Path | None] = []

    def load(config_dir: Path, inventory: Path | None = None) -> Any:
        loaded.append(inventory)
        raise BadInput("loaded")

    # The session reaches it as load_site: the one loader of the project.
    monkeypatch.setattr(site_module, "load_site", load)
    inventory = tmp_path / "elsewhere"
    assert run([*args, "-c", str(tmp_path), "-i", str(inventory)]) == ExitStatus.BAD_INPUT
    assert loaded == [inventory]


def test_upgrade_and_rollback_plans_render_the_site_they_are_given(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They take the session's loaded site (with its -i inventory), never a path to load.
    site = load_site(config_dir)
    rendered: list[Any] = []

    def desired(given: Any, *_: Any) -> Any:
        rendered.append(given)
        raise BadInput("rendered")

    def no_load(*_: Any, **__: Any) -> Any:
        raise AssertionError("loaded again")

    monkeypatch.setattr(operations, "desired", desired)
    monkeypatch.setattr(operations, "render", desired)
    monkeypatch.setattr(site_module, "load_project", no_load)
    history = History(config_dir / "history.db")
    unused: Any = None
    try:
        with pytest.raises(BadInput):
            upgrade_plan(site, unused, history, "keystone", "t", "c")
        with pytest.raises(BadInput):
            rollback_plan(site, unused, history, "keystone", None, "c")
    finally:
        history.close()
    assert rendered == [site, site]
