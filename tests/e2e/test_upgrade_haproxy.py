"""Zero failed requests behind HAProxy: upgrade and roll back Keystone under load.

The all-in-one config is switched to HAProxy on the VIP (127.0.0.2 on the loopback),
ending TLS there, in one deploy shared with test_tls (tests/e2e/conftest.py's
``haproxy_with_tls``); the load therefore goes through https with colla's CA. The
switch is left on for the modules after it on the all-in-one cloud.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.cli.app import run
from colla.engine import DockerEngine, Engine
from colla.model.specs import LABEL_MANAGED
from colla.project import load_project
from colla.upgrade import haproxy
from tests.e2e.conftest import VIP, haproxy_with_tls, killed_at, vip_context
from tests.e2e.test_upgrade import GOOD, OVERRIDES

pytestmark = pytest.mark.e2e

RATE = 20  # requests a second
LIMIT = 600  # seconds: the loop stops by itself


class Load:
    """Token validations through the VIP at a fixed rate, counted."""

    def __init__(self, token: str, context: ssl.SSLContext) -> None:
        self.token = token
        self.context = context
        self.sent = 0
        self.failed = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _one(self) -> None:
        request = urllib.request.Request(
            f"https://{VIP}:5000/v3/auth/tokens",
            headers={"X-Auth-Token": self.token, "X-Subject-Token": self.token},
        )
        try:
            with urllib.request.urlopen(request, timeout=2, context=self.context) as response:
                response.read()
        except (OSError, urllib.error.URLError):
            with self.lock:
                self.failed += 1

    def _run(self) -> None:
        deadline = time.monotonic() + LIMIT
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.sent += 1
            threading.Thread(target=self._one, daemon=True).start()
            time.sleep(1 / RATE)


@pytest.fixture(scope="module")
def behind_haproxy(config_dir: Path) -> Path:
    haproxy_with_tls(config_dir)
    haproxy_container = DockerEngine.connect().container("haproxy")
    assert haproxy_container is not None and haproxy_container.health == "healthy"
    return config_dir


def _token(config_dir: Path) -> str:
    password = load_project(config_dir, load_services()).passwords["keystone_admin_password"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    request = urllib.request.Request(
        f"https://{VIP}:5000/v3/auth/tokens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=vip_context(config_dir)) as response:
        return str(response.headers["X-Subject-Token"])


def test_upgrade_and_rollback_lose_no_request(
    engine: Engine, behind_haproxy: Path, tmp_path: Path
) -> None:
    config_dir = behind_haproxy
    override = tmp_path / "good.j2"
    override.write_text(OVERRIDES[GOOD])
    assert run(["build", "^keystone$", "--tag", GOOD, "--template-override", str(override)]) == 0
    load = Load(_token(config_dir), vip_context(config_dir))
    load.thread.start()
    try:
        time.sleep(1)
        assert run(["upgrade", "keystone", "--tag", GOOD, "-c", str(config_dir)]) == 0
        upgraded = engine.container("keystone")
        assert upgraded is not None and upgraded.health == "healthy"
        assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0
        time.sleep(1)
    finally:
        load.stop.set()
        load.thread.join()
    time.sleep(3)  # the last requests finish (2 s timeout)
    assert load.sent > 100
    assert load.failed == 0, f"{load.failed} of {load.sent} requests failed"
    back = engine.container("keystone")
    base = engine.image("colla/keystone:zed")
    assert back is not None and base is not None and back.image_id == base.id


def test_killed_halfway_through_the_switch_then_recover(
    engine: Engine, behind_haproxy: Path, tmp_path: Path
) -> None:
    """colla dies with the old servers drained and the new one serving; recover puts
    traffic back on the old version (issue 11, item 3)."""
    config_dir = behind_haproxy
    override = tmp_path / "good.j2"
    override.write_text(OVERRIDES[GOOD])
    assert run(["build", "^keystone$", "--tag", GOOD, "--template-override", str(override)]) == 0
    before = engine.container("keystone")
    assert before is not None
    killed_at(during="switch", args=["upgrade", "keystone", "--tag", GOOD, "-c", str(config_dir)])
    assert run(["recover", "-c", str(config_dir)]) == 0
    names = {c.name for c in engine.containers(f"{LABEL_MANAGED}=true")}
    assert "keystone" in names and not {n for n in names if n.startswith("keystone-colla")}
    back = engine.container("keystone")
    assert back is not None and back.image_id == before.image_id and back.health == "healthy"
    # HAProxy serves from the old server again: up, not drained.
    servers = haproxy.servers("keystone")
    assert any(status.startswith("UP") for status, _ in servers.values()), servers
    assert not [s for s, (status, _) in servers.items() if "DRAIN" in status], servers
    assert _token(config_dir)
