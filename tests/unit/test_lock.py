"""One changing command at a time, and every cloud command against the inventory of -i."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from colla.cli.app import run
from colla.deploy import deployment
from colla.errors import BadInput, ExitStatus
from colla.lab.files import ensure_state_dir
from colla.upgrade import operations
from colla.upgrade.operations import locked, rollback_plan, upgrade_plan

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

    # The session reaches it as deployment.load: the one loader of the project.
    monkeypatch.setattr(deployment, "load", load)
    inventory = tmp_path / "elsewhere"
    assert run([*args, "-c", str(tmp_path), "-i", str(inventory)]) == ExitStatus.BAD_INPUT
    assert loaded == [inventory]


def test_upgrade_and_rollback_plans_load_that_inventory_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[Path | None] = []

    def desired(config_dir: Path, engine: Any, inventory: Path | None = None, **_: Any) -> Any:
        loaded.append(inventory)
        raise BadInput("loaded")

    monkeypatch.setattr(operations, "desired", desired)
    inventory = tmp_path / "elsewhere"
    # The engine and history are never reached: desired() stops first.
    unused: Any = None
    with pytest.raises(BadInput):
        upgrade_plan(tmp_path, unused, unused, "keystone", "t", "c", None, inventory)
    with pytest.raises(BadInput):
        rollback_plan(tmp_path, unused, unused, "keystone", None, "c", None, inventory)
    assert loaded == [inventory, inventory]
