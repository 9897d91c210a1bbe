"""Pre-upgrade dumps kept off the database host: a proven dump is copied under
colla_backup_dir/upgrades with its manifest, put back (checked) before a restore uses it,
refused when the copy no longer matches, and forgotten by prune; a swap's restores
stage their dump first."""

from __future__ import annotations

import io
import json
import stat
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from colla.backup import dumps
from colla.backup.take import prove_dump
from colla.backup.tasks import database_host
from colla.deploy.executor import Executor
from colla.errors import CollaError, DeployFailed
from colla.history.store import History
from colla.model.specs import LABEL_HASH, LABEL_MANAGED, TASK_PREFIX
from colla.site import Site, load_site
from colla.upgrade.swap import Swapper, SwapPlan
from tests.fakes import FakeEngine, task_spec
from tests.unit.test_backup import DUMP, PROOF, TABLES, _tar
from tests.unit.test_plan import spec

NAME = "keystone-20261207T050000"


@pytest.fixture
def site(config_dir: Path) -> Site:
    return load_site(config_dir)


@pytest.fixture
def host() -> FakeEngine:
    engine = FakeEngine("localhost", every_image=True)
    engine.create_volume("colla_backups", {LABEL_MANAGED: "true"})
    engine.volume_data["colla_backups"] = _tar({f"{NAME}.sql": DUMP})
    engine.results[TASK_PREFIX + "mariadb-backup-proof"] = (0, PROOF)
    return engine


def _kept(site: Site, host: FakeEngine) -> Path:
    db = database_host(site)

    def keep(path: Path, tables: dict[str, dict[str, int]]) -> None:
        dumps.keep(site, NAME, path, tables, "deployment-1")

    assert prove_dump(db, {"localhost": host}, f"{NAME}.sql", keep) == TABLES
    return dumps.dumps_dir(site) / f"{NAME}.sql"


def test_a_proven_dump_is_kept_with_its_manifest(site: Site, host: FakeEngine) -> None:
    kept = _kept(site, host)
    assert kept.read_bytes() == DUMP
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    manifest = json.loads(kept.with_suffix(".json").read_text())
    assert manifest["name"] == NAME and manifest["deployment"] == "deployment-1"
    assert manifest["tables"] == TABLES and len(manifest["sha256"]) == 64
    assert kept.parent == site.config_dir / "backups" / "upgrades"


def test_a_kept_dump_is_put_back_checked_and_forgotten(site: Site, host: FakeEngine) -> None:
    _kept(site, host)
    host.volume_data["colla_backups"] = b""  # the database host lost its copy
    assert dumps.stage(database_host(site), host, NAME)
    with tarfile.open(fileobj=io.BytesIO(host.volume_data["colla_backups"])) as tar:
        (member,) = tar.getmembers()
        assert member.name == f"colla-target/{NAME}.sql"
        handle = tar.extractfile(member)
        assert handle is not None and handle.read() == DUMP
    assert dumps.forget(site, [NAME, "never-kept"]) == 1
    assert list(dumps.dumps_dir(site).iterdir()) == []
    # Nothing kept: the volume's own copy is used.
    assert not dumps.stage(database_host(site), host, NAME)


def test_a_kept_dump_that_changed_is_not_restored(site: Site, host: FakeEngine) -> None:
    kept = _kept(site, host)
    kept.write_bytes(DUMP.replace(b"admin", b"evil!"))
    before = len(host.calls)
    with pytest.raises(CollaError, match=rf"{NAME}\.sql: differs from its manifest's SHA-256"):
        dumps.stage(database_host(site), host, NAME)
    assert not [c for c in host.calls[before:] if c.startswith("put volume")]


def test_a_rollbacks_restore_stages_its_dump_first(tmp_path: Path) -> None:
    host = FakeEngine("node1")
    new = replace(
        spec({"name": "keystone", "service": "keystone", "node": "node1"}),
        config_dir=str(tmp_path / "keystone"),
    )
    host.add("keystone", labels={LABEL_HASH: "old"})
    plan = SwapPlan(
        kind="rollback",
        service="keystone",
        new=(new,),
        backup=task_spec("keystone-backup", "node1", tmp_path),
        restore=task_spec("keystone-restore", "node1", tmp_path),
        restore_before_start=task_spec("keystone-restore-old", "node1", tmp_path),
        restore_dump="keystone-older",
        backup_name="keystone-now",
    )
    staged: list[tuple[str, int]] = []

    def stage(name: str) -> None:
        staged.append((name, len(host.tasks)))

    history = History(tmp_path / "history.sqlite")
    swapper = Swapper(Executor({"node1": host}, print, 5), history, lambda _: None, None, stage)
    swapper.run(plan)
    ran = [t.removeprefix(TASK_PREFIX) for t in host.tasks]
    assert ran == ["keystone-backup", "keystone-restore-old"]
    assert staged == [("keystone-older", 1)]  # after the backup, before the restore

    # A failed rollback's revert restores the dump it took, staged first as well.
    failing = FakeEngine("node1", health="unhealthy")
    failing.add("keystone", labels={LABEL_HASH: "old"})
    staged.clear()
    history2 = History(tmp_path / "history2.sqlite")
    swapper = Swapper(Executor({"node1": failing}, print, 5), history2, lambda _: None, None, stage)
    host = failing
    with pytest.raises(DeployFailed):
        swapper.run(plan)
    assert [name for name, _ in staged] == ["keystone-older", "keystone-now"]
    assert failing.tasks[-1] == TASK_PREFIX + "keystone-restore"
