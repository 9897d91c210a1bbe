"""Secrets rotated under load with no failed request (issue 17).

Behind HAProxy with TLS (left on by test_upgrade_haproxy and test_tls), a bounded loop
signs in and validates tokens through Keystone and lists servers through Nova on the
VIP while the fernet keys are rotated twice, then the Keystone database password, Nova's
service password and the message bus's password (every service on the bus moves). Not
one request may fail, `colla check` passes after each rotation, the old credentials stop
working and a deploy afterwards changes nothing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED
from tests.e2e.conftest import VIP, haproxy_with_tls, vip_context
from tests.e2e.test_upgrade_haproxy import _token

pytestmark = pytest.mark.e2e

# Requests a second: what this 2-core machine serves with room to spare while a dozen
# containers restart beside it. Keystone (one worker) validates about 8 tokens a second
# then; at 20 a second the load took over a core and its queue outgrew the clients'
# 5 s timeout, with every request answered, only late.
RATE = 10
LIMIT = 900  # seconds: the loop stops by itself


class Mixed:
    """Requests through the VIP at a fixed rate, each one's failure recorded, in turn:
    a sign-in (Keystone reads the user from its database), a token validation and a
    server list (Nova checks the token with its own service credential)."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.context = vip_context(config_dir)
        self.token = _token(config_dir)
        self.sent = 0
        self.failed: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def renew(self) -> None:
        """A new token, as a client takes one in its token's life: a token outlives
        one key rotation, not every one (max_active_keys)."""
        self.token = _token(self.config_dir)

    def _one(self, turn: int, token: str) -> None:
        try:
            if turn == 0:
                _token(self.config_dir)
                return
            url, extra = (
                (f"https://{VIP}:5000/v3/auth/tokens", {"X-Subject-Token": token})
                if turn == 1
                else (f"https://{VIP}:8774/v2.1/servers", {})
            )
            request = urllib.request.Request(url, headers={"X-Auth-Token": token, **extra})
            with urllib.request.urlopen(request, timeout=5, context=self.context) as response:
                response.read()
        except (OSError, urllib.error.URLError) as e:
            with self.lock:
                self.failed.append(f"{time.strftime('%X')} request kind {turn}: {e}")

    def _run(self) -> None:
        deadline = time.monotonic() + LIMIT
        while not self.stop.is_set() and time.monotonic() < deadline:
            # One sign-in a second (Keystone hashes the password: a CPU's worth of
            # them would load it more than any rotation), the rest half and half.
            turn = 0 if self.sent % RATE == 0 else 1 + self.sent % 2
            self.sent += 1
            threading.Thread(target=self._one, args=(turn, self.token), daemon=True).start()
            time.sleep(1 / RATE)


def _passwords(config_dir: Path) -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((config_dir / "passwords.yml").read_text())
    return data


def _signs_in(config_dir: Path, user: str, password: str) -> int:
    """Keystone's status for an unscoped password sign-in through the VIP."""
    identity = {"user": {"name": user, "domain": {"id": "default"}, "password": password}}
    body = {"auth": {"identity": {"methods": ["password"], "password": identity}}}
    request = urllib.request.Request(
        f"https://{VIP}:5000/v3/auth/tokens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=vip_context(config_dir)) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code


def _database_accepts(engine: Engine, user: str, password: str) -> bool:
    """Whether MariaDB lets ``user`` in with ``password`` over TCP (TLS: it refuses
    plain TCP)."""
    code, _ = engine.exec(
        "mariadb",
        ["mariadb", "--ssl", "-h", "127.0.0.1", "-u", user, f"-p{password}", "-e", "SELECT 1"],
    )
    return code == 0


def _started(engine: Engine) -> dict[str, str]:
    return {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}


def test_keys_and_passwords_rotate_under_load_with_no_failed_request(
    engine: Engine, config_dir: Path
) -> None:
    haproxy_with_tls(config_dir)
    before = _passwords(config_dir)
    load = Mixed(config_dir)
    load.thread.start()
    try:
        time.sleep(1)
        for argv in (
            ["rotate-keys"],
            ["rotate-keys"],
            ["rotate-password", "keystone_database_password"],
            ["rotate-password", "nova_keystone_password"],
            # Every service on the bus moves to the broker's twin account.
            ["rotate-password", "rabbitmq_password"],
        ):
            assert run([*argv, "-c", str(config_dir)]) == 0, argv
            assert run(["check", "-c", str(config_dir)]) == 0, argv
            load.renew()
        time.sleep(1)
    finally:
        load.stop.set()
        load.thread.join()
    time.sleep(6)  # the last requests finish (5 s timeout)
    assert load.sent > 200
    assert load.failed == [], f"{len(load.failed)} of {load.sent} failed: {load.failed[:5]}"

    after = _passwords(config_dir)
    for key in ("keystone_database_password", "nova_keystone_password", "rabbitmq_password"):
        assert after[key] != before[key]
    assert not (config_dir / "rotating.yml").exists()
    assert yaml.safe_load((config_dir / "accounts.yml").read_text()) == {
        "nova_keystone_password": "nova-alt",
        "rabbitmq_password": "openstack-alt",
    }
    code, users = engine.exec("rabbitmq", ["rabbitmqctl", "-q", "list_users"])
    assert code == 0 and [line.split()[0] for line in users.splitlines()[1:]] == ["openstack-alt"]
    assert _signs_in(config_dir, "nova-alt", after["nova_keystone_password"]) == 201
    assert _signs_in(config_dir, "nova", before["nova_keystone_password"]) == 401
    old_db, new_db = before["keystone_database_password"], after["keystone_database_password"]
    assert _database_accepts(engine, "keystone", new_db)
    assert not _database_accepts(engine, "keystone", old_db)

    # The rotated values are the deployment's now: a deploy has nothing to change.
    running = _started(engine)
    assert run(["deploy", "-c", str(config_dir)]) == 0
    assert _started(engine) == running
