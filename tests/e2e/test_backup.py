"""A backup taken while the cloud serves, proven by loading it, and restored after
`destroy --volumes` (issue 17).

Tokens are requested all through the backup and none fails. The restore is refused while
the cloud runs, and a truncated archive is refused, each with one line and nothing
changed. After destroy --volumes and the restore, a token issued before the backup
still validates (the same fernet keys), the project, user and image made by
test_core_cloud are there, the image's bytes included, and `colla check` passes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

import pytest
import yaml

from colla.backup import archive
from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED
from tests.e2e.conftest import assert_refused, openstack
from tests.e2e.test_core_cloud import PROJECT

pytestmark = pytest.mark.e2e

TOKENS = "http://127.0.0.1:5000/v3/auth/tokens"


def _admin_token(config_dir: Path) -> str:
    """A token for the admin, asked of Keystone directly (not through colla)."""
    password = yaml.safe_load((config_dir / "passwords.yml").read_text())["keystone_admin_password"]
    identity = {"user": {"name": "admin", "domain": {"id": "default"}, "password": password}}
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    body = {"auth": {"identity": {"methods": ["password"], "password": identity}, "scope": scope}}
    request = urllib.request.Request(
        TOKENS, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return str(response.headers["X-Subject-Token"])


def _validates(config_dir: Path, token: str) -> int:
    request = urllib.request.Request(
        TOKENS, headers={"X-Auth-Token": _admin_token(config_dir), "X-Subject-Token": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


class _Requests(threading.Thread):
    """Tokens asked for in a loop, about 5 a second, until stopped; failures counted."""

    def __init__(self, config_dir: Path) -> None:
        super().__init__(daemon=True)
        self.config_dir = config_dir
        self.done = threading.Event()
        self.ok = 0
        self.failed: list[str] = []

    def run(self) -> None:
        while not self.done.wait(0.2):
            try:
                _admin_token(self.config_dir)
                self.ok += 1
            except (OSError, urllib.error.URLError) as e:
                self.failed.append(str(e))


def _image_digest(config_dir: Path, work: Path) -> str:
    saved = work / f"saved-{os.getpid()}.raw"
    openstack(config_dir, "image", "save", "--file", str(saved), PROJECT)
    digest = hashlib.sha512(saved.read_bytes()).hexdigest()
    saved.unlink()
    return digest


def test_backup_while_serving_then_restore_after_destroy_volumes(
    engine: Engine,
    config_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _admin_token(config_dir)
    image_before = _image_digest(config_dir, tmp_path)
    target = tmp_path / "cloud.tar.gz"

    load = _Requests(config_dir)
    load.start()
    try:
        assert run(["backup", "-c", str(config_dir), "-o", str(target)]) == 0
    finally:
        load.done.set()
        load.join()
    assert load.ok > 0 and load.failed == [], load.failed
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    with archive.opened(target) as (manifest, _):
        assert manifest.verified
        assert manifest.databases["keystone"]["project"] >= 3  # admin, service, ours
        keys = {"keystone_fernet_keys", "keystone_credential_keys"}
        assert set(manifest.volumes) == {*keys, "glance"}

    # Refused, each with one line, nothing changed: onto the running cloud, and cut short.
    capsys.readouterr()
    assert_refused(engine, ["restore", str(target), "-c", str(config_dir)], "is running", capsys)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(target.read_bytes()[: target.stat().st_size * 2 // 3])
    assert_refused(
        engine, ["restore", str(cut), "-c", str(config_dir)], "not a whole colla backup", capsys
    )
    with tarfile.open(target) as whole:
        assert whole.getnames()[0] == archive.MANIFEST

    assert run(["destroy", "--volumes", "--yes-i-really-mean-it", "-c", str(config_dir)]) == 0
    assert engine.containers(f"{LABEL_MANAGED}=true") == []
    assert run(["restore", str(target), "-c", str(config_dir)]) == 0

    assert _validates(config_dir, before) == 200
    projects = json.loads(openstack(config_dir, "project", "list", "-f", "json"))
    assert PROJECT in {p["Name"] for p in projects}
    users = json.loads(openstack(config_dir, "user", "list", "-f", "json"))
    assert f"{PROJECT}-user" in {u["Name"] for u in users}
    assert _image_digest(config_dir, tmp_path) == image_before
    assert run(["check", "-c", str(config_dir)]) == 0


def _keys(engine: Engine, config_dir: Path, volume: str) -> list[str]:
    """The key files in one of Keystone's key volumes, read through the engine."""
    prefix = yaml.safe_load((config_dir / "globals.yml").read_text())["colla_volume_prefix"]
    data = b"".join(engine.read_volume(prefix + volume, "", "colla/keystone:zed"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return sorted(PurePosixPath(m.name).name for m in tar.getmembers() if m.isfile())


def test_rotate_keys_twice_under_load_fails_no_request(engine: Engine, config_dir: Path) -> None:
    """Each rotation promotes the staged key and makes a new one, keeping the tokens of
    the keys that max_active_keys keeps (3 by default: staged, primary and one older),
    and stored credentials are re-encrypted and read back."""
    blob = json.dumps({"access": "colla-e2e-access", "secret": "colla-e2e-secret"})
    made = json.loads(
        openstack(
            config_dir,
            *("credential", "create", "--type", "ec2", "--project", "admin"),
            *("admin", blob, "-f", "json"),
        )
    )
    fernet = _keys(engine, config_dir, "keystone_fernet_keys")
    first = _admin_token(config_dir)
    load = _Requests(config_dir)
    load.start()
    try:
        assert run(["rotate-keys", "-c", str(config_dir)]) == 0
        assert _validates(config_dir, first) == 200
        second = _admin_token(config_dir)
        assert run(["rotate-keys", "-c", str(config_dir)]) == 0
    finally:
        load.done.set()
        load.join()
    assert load.ok > 0 and load.failed == [], load.failed
    assert _validates(config_dir, second) == 200
    # Two new keys, the oldest purged: three kept. (The first token may still validate:
    # Keystone caches a token when it issues it, whatever became of its key.)
    newest = max(int(k) for k in fernet)
    assert _keys(engine, config_dir, "keystone_fernet_keys") == sorted(
        ["0", str(newest + 1), str(newest + 2)]
    )
    assert len(_keys(engine, config_dir, "keystone_credential_keys")) == 3
    shown = json.loads(openstack(config_dir, "credential", "show", made["id"], "-f", "json"))
    assert json.loads(shown["blob"]) == json.loads(blob)
    openstack(config_dir, "credential", "delete", made["id"])
    assert run(["check", "-c", str(config_dir)]) == 0
