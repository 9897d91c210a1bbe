"""What prune forgets: all but the last N revisions per container, never the running one,
and only the images nothing needs any more."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import DockerEngine
from colla.errors import ExitStatus
from colla.history.prune import prunable, unneeded_dumps, unneeded_images
from colla.history.store import History, Revision
from colla.model.specs import TASK_PREFIX
from tests.fakes import FakeEngine, add_upgrade_revision


def _rev(id: int, container: str, status: str = "healthy", image_id: str = "") -> Revision:
    return Revision(
        id=id,
        service=container.split("_")[0],
        container=container,
        node="node1",
        operation="upgrade",
        operation_id=None,
        status=status,
        note="",
        image="img",
        image_id=image_id or f"sha256:{id}",
        digest="",
        spec_hash="",
        spec={},
        backup="",
        migrated=False,
        command="",
        created_at="",
        finished_at="",
    )


def test_all_but_the_last_n_of_each_container_are_forgotten() -> None:
    revisions = [_rev(1, "keystone"), _rev(2, "glance_api"), _rev(3, "keystone")]
    revisions += [_rev(4, "keystone", status="rolled_back")]
    # keystone's running revision is 3: the rolled-back 4 after it does not replace it.
    assert prunable(revisions, 1) == [1]
    assert prunable(revisions, 2) == [1]
    assert prunable(revisions, 3) == []


def test_the_running_revision_is_kept_however_old() -> None:
    revisions = [_rev(1, "keystone"), _rev(2, "keystone", "rolled_back")]
    revisions += [_rev(3, "keystone", "pending")]
    assert prunable(revisions, 1) == [2]


def test_only_images_that_nothing_needs_go() -> None:
    before = [_rev(1, "a", image_id="x"), _rev(2, "a", image_id="y"), _rev(3, "b", image_id="z")]
    after = [before[1]]
    assert unneeded_images(before, after, ["z"]) == ["x"]


def test_only_dumps_that_no_kept_revision_names_go() -> None:
    before = [replace(_rev(1, "a"), backup="a-1"), replace(_rev(2, "a"), backup="a-2")]
    before += [_rev(3, "b")]
    assert unneeded_dumps(before, before[1:]) == ["a-1"]
    assert unneeded_dumps(before, before) == []


def test_prune_removes_the_dumps_of_forgotten_revisions(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEngine("localhost", every_image=True)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: fake))
    history = History(config_dir / "history.sqlite")
    for backup in ("keystone-20261201T000000Z", "keystone-20261202T000000Z"):
        add_upgrade_revision(history, "keystone", "colla/keystone:zed", backup)
    history.close()
    assert run(["prune", "--keep", "1", "-c", str(config_dir)]) == ExitStatus.OK
    (clean,) = [r for r in fake.ran if r.name == TASK_PREFIX + "mariadb-backup-clean"]
    command = json.loads((config_dir / "mariadb-backup-clean" / "config.json").read_text())
    assert command["command"] == (
        "rm -f /backups/keystone-20261201T000000Z.sql /backups/keystone-20261201T000000Z.sql.part"
    )
    assert clean.volumes == {"colla_backups": "/backups"}
