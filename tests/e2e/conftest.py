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
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED

BIN = Path(sys.executable).parent
# The internal VIP on the loopback that HAProxy (and TLS) take over for the last modules
# on the all-in-one cloud.
VIP = "127.0.0.2"


def haproxy_with_tls(config_dir: Path) -> Path:
    """Switch the suite's cloud to HAProxy on the VIP, ending TLS there, and the message
    bus and the database to TLS, in one deploy (with `colla certs` before it and
    `post-deploy` after it for the CA-aware clients).

    test_upgrade_haproxy and test_tls both need it: the first to run switches and the
    second finds it done, which spares the suite a full redeploy. The suite's config
    directory is made anew each run, so the edit is never left in an operator's file.
    """
    globals_path = config_dir / "globals.yml"
    text = globals_path.read_text()
    if "kolla_enable_tls_internal: true" in text:
        return config_dir
    old = 'kolla_internal_vip_address: "127.0.0.1"'
    assert old in text
    text = text.replace(old, f'kolla_internal_vip_address: "{VIP}"')
    text += "enable_haproxy: true\n"
    text += "kolla_enable_tls_internal: true\nkolla_enable_tls_external: true\n"
    text += "rabbitmq_enable_tls: true\ndatabase_enable_tls_backend: true\n"
    globals_path.write_text(text)
    assert run(["certs", "-c", str(config_dir)]) == 0
    assert run(["deploy", "-c", str(config_dir)]) == 0
    assert run(["post-deploy", "-c", str(config_dir)]) == 0
    return config_dir


def vip_context(config_dir: Path) -> ssl.SSLContext:
    """A client context that trusts the CA `colla certs` made for the VIP."""
    return ssl.create_default_context(cafile=str(config_dir / "certificates/ca/root.crt"))


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
