"""The cloud on hostile passwords, and passwords rotated by `colla deploy` (issue 12).

tests/conftest.py gives every password key one of tests/passwords.py's values (quotes,
``$``, ``%``, ``#``, backslashes, spaces, non-ASCII letters), so the cloud that
test_core_cloud deployed already had to escape them in every file. Here every service
user and the admin get a token with theirs, the openrc gives the admin password back
byte for byte, and a new admin password and a new Glance password are rolled out by
`deploy`: the plan names them, only their containers are recreated, the old passwords
stop working and the new ones work.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from colla.catalog import load_services
from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED
from tests.e2e.conftest import BIN, openstack

pytestmark = pytest.mark.e2e

KEYSTONE = "http://127.0.0.1:5000/v3/auth/tokens"
NEW_ADMIN = "rotated 'admin' $x %s #é\\"
NEW_GLANCE = 'rotated "glance" ${y} ; ß'


def _token_status(user: str, password: str, project: str) -> int:
    """Keystone's status for a password token request: 201 issued, 401 refused."""
    scope = {"project": {"name": project, "domain": {"id": "default"}}}
    identity = {"user": {"name": user, "domain": {"id": "default"}, "password": password}}
    body = {"auth": {"identity": {"methods": ["password"], "password": identity}, "scope": scope}}
    request = urllib.request.Request(
        KEYSTONE, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def _passwords(config_dir: Path) -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((config_dir / "passwords.yml").read_text())
    return data


def _service_users() -> dict[str, str]:
    """Keystone user → its password key, for every service that registers one."""
    catalog = load_services()
    return {s.keystone.user: s.keystone.password for s in catalog.services.values() if s.keystone}


def _started(engine: Engine) -> dict[str, str]:
    return {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}


def test_every_service_user_and_the_admin_get_a_token(config_dir: Path) -> None:
    passwords = _passwords(config_dir)
    for user, key in _service_users().items():
        assert _token_status(user, passwords[key], "service") == 201, user
    admin = passwords["keystone_admin_password"]
    assert _token_status("admin", admin, "admin") == 201
    sourced = subprocess.run(
        ["bash", "-c", 'source "$1" && printf %s "$OS_PASSWORD"', "-", "admin-openrc.sh"],
        cwd=config_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout == admin


def test_deploy_rotates_the_admin_and_a_service_password(engine: Engine, config_dir: Path) -> None:
    old = _passwords(config_dir)
    path = config_dir / "passwords.yml"
    changed = {**old, "keystone_admin_password": NEW_ADMIN, "glance_keystone_password": NEW_GLANCE}
    path.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    # A wide terminal keeps each plan row on one line.
    plan = subprocess.run(
        [str(BIN / "colla"), "plan", "-c", str(config_dir)],
        env={**os.environ, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plan.returncode == 0, plan.stderr
    for container, key in (
        ("keystone", "keystone_admin_password"),
        ("glance_api", "glance_keystone_password"),
    ):
        row = rf"│ {container}\s+│ \w+\s+│ recreate\s+│ password {key} changed"
        assert re.search(row, plan.stdout), plan.stdout
    before = _started(engine)
    assert run(["deploy", "-c", str(config_dir)]) == 0
    after = _started(engine)
    assert {n for n in before if before[n] != after.get(n)} == {"keystone", "glance_api"}
    assert _token_status("admin", NEW_ADMIN, "admin") == 201
    assert _token_status("admin", old["keystone_admin_password"], "admin") == 401
    assert _token_status("glance", NEW_GLANCE, "service") == 201
    assert _token_status("glance", old["glance_keystone_password"], "service") == 401
    # post-deploy writes the new admin password into clouds.yaml; Glance validates the
    # client's token with its own new password.
    assert run(["post-deploy", "-c", str(config_dir)]) == 0
    images = json.loads(openstack(config_dir, "image", "list", "-f", "json"))
    assert isinstance(images, list) and images
    assert run(["check", "-c", str(config_dir)]) == 0
