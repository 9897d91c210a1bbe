"""Fixtures for the end-to-end tier: the all-in-one cloud on this machine's engine.

The tier deploys the same cloud `make aio` makes, from a config directory of the
suite's own (tests/conftest.py's ``CONFIG_DIR``) with volumes of its own, and leaves it
stopped (the labs, last, stop it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED

BIN = Path(sys.executable).parent


def engine_state(engine: Engine) -> dict[str, object]:
    """Containers (name → id, state) and volumes: what bad input must not change."""
    containers = {c.name: (c.id, c.state) for c in engine.containers(f"{LABEL_MANAGED}=true")}
    return {"containers": containers, "volumes": engine.all_volumes()}


def openstack(config_dir: Path, *args: str) -> str:
    """Run the real python-openstackclient against the deployed cloud."""
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(config_dir / "clouds.yaml"),
        "OS_CLOUD": "colla",
    }
    result = subprocess.run(
        [str(BIN / "openstack"), *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
    return result.stdout


def assert_refused(
    engine: Engine, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``colla args`` fails with one line matching ``message`` and changes nothing."""
    before = engine_state(engine)
    code = run(args)
    err = capsys.readouterr().err
    assert code != 0
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert engine_state(engine) == before


def assert_edit_refused(
    engine: Engine,
    config_dir: Path,
    work: Path,
    edit: Callable[[Path], object],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A deploy of a copy of ``config_dir`` (at ``work``) changed by ``edit`` is refused."""
    shutil.copytree(config_dir, work)
    edit(work)
    assert_refused(engine, ["deploy", "-c", str(work)], message, capsys)


def killed_at(*, args: list[str], at: str | None = None, during: str | None = None) -> None:
    """Run ``colla args`` in a process of its own that SIGKILLs itself when it journals
    step ``at``, or in the middle of step ``during`` (colla.upgrade.swap)."""
    env = dict(os.environ)
    env.update({"COLLA_KILL_AT": at} if at else {"COLLA_KILL_DURING": during or ""})
    killed = subprocess.run(
        [str(BIN / "colla"), *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert killed.returncode == -9, killed.stderr[-2000:]


@pytest.fixture
def listener() -> Iterator[int]:
    """A process of ours holding memcached's port, as an operator's stray daemon would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 11211))
    sock.listen(1)
    try:
        yield 11211
    finally:
        sock.close()
