"""`colla rotate-keys` on a fake engine: the catalog's steps, in the image the service
runs, with Keystone's key count following the globals' token lifetimes."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.cli.app import run
from colla.config.globals import load_globals
from colla.deploy.tasks import BACKGROUND_SHARES
from colla.engine import DockerEngine
from colla.errors import ExitStatus
from colla.history.store import History
from colla.model.specs import TASK_PREFIX
from colla.site import load_site
from tests.fakes import FakeEngine, add_upgrade_revision


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("", 3),  # a token's life (1 day, and 2 days expired) is one rotation interval
        ("fernet_key_rotation_interval: 86400\n", 5),  # rotated daily: 3 older keys
        ("fernet_key_rotation_interval: 100000\n", 5),  # a part interval counts whole
        ("fernet_token_expiry: 3600\nfernet_token_allow_expired_window: 0\n", 3),
    ],
)
def test_keystone_keeps_enough_keys_for_a_tokens_life(
    tmp_path: Path, keys: str, expected: int
) -> None:
    path = tmp_path / "globals.yml"
    path.write_text("network_interface: eth0\n" + keys)
    assert load_globals(path, {}).fernet_max_active_keys == expected


def test_rotate_keys_runs_keystones_steps_in_its_running_image(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine("localhost", every_image=True)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: fake))
    site = load_site(config_dir)
    # An upgrade left keystone at another tag: the rotation runs in that image.
    history = History(config_dir / "history.sqlite")
    add_upgrade_revision(history, "keystone", "colla/keystone:zed-upgrade")
    history.close()
    assert run(["rotate-keys", "-c", str(config_dir)]) == ExitStatus.OK
    assert "localhost/keystone-fernet-rotate: running key rotation step" in capsys.readouterr().err
    names = [r.name for r in fake.ran]
    assert names == [
        TASK_PREFIX + "keystone-fernet-rotate",
        TASK_PREFIX + "keystone-credential-rotate",
    ]
    assert fake.ran[0].volumes == {"keystone_fernet_keys": "/etc/keystone/fernet-keys"}
    # The cloud serves meanwhile: the steps take the CPU its services leave.
    assert all(r.cpu_shares == BACKGROUND_SHARES for r in fake.ran)
    used = {fake.image_names[ref].id: ref for ref in fake.image_names}
    assert all(used[r.image] == "colla/keystone:zed-upgrade" for r in fake.ran)
    conf = (config_dir / "keystone-fernet-rotate" / "keystone.conf").read_text()
    assert "max_active_keys = 3" in conf
    assert site.enabled  # loaded the same config


def test_rotate_keys_of_a_service_without_keys_is_refused(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine("localhost", every_image=True)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: fake))
    assert run(["rotate-keys", "glance", "-c", str(config_dir)]) != ExitStatus.OK
    err = capsys.readouterr().err
    assert "'glance' has no keys colla rotates (those that do: keystone)" in err
    assert fake.ran == []
