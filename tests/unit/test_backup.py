"""Backups and restores on fake engines: what an archive holds, its proof, --keep, and
every refusal leaving things as they were. The real dump, proof and load run in the e2e
tier (tests/e2e/test_backup.py)."""

from __future__ import annotations

import io
import json
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from colla.backup import archive
from colla.backup.restore import check_deployment, write_config
from colla.backup.take import take_backup
from colla.backup.tasks import parse_counts
from colla.catalog import load_services
from colla.cli.app import run
from colla.engine import DockerEngine
from colla.errors import BadInput, CollaError, ExitStatus
from colla.history.peek import deployment_of
from colla.history.store import History
from colla.model.specs import LABEL_MANAGED, TASK_PREFIX
from colla.site import Site, load_site
from tests.fakes import FakeEngine

CREATED = "2026-12-07T05:00:00Z"
DUMP_NAME = "colla-backup-2026-12-07T050000Z.sql"

# What mariadb-dump writes with --databases and --skip-extended-insert: one row per line,
# a newline inside a value escaped, so the INSERT inside the string is not a row.
DUMP = b"""-- MariaDB dump
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `keystone` /*!40100 DEFAULT CHARACTER SET utf8mb3 */;
USE `keystone`;
DROP TABLE IF EXISTS `project`;
CREATE TABLE `project` (
  `id` varchar(64) NOT NULL
) ENGINE=InnoDB;
INSERT INTO `project` VALUES ('admin');
INSERT INTO `project` VALUES ('a\\nINSERT INTO `project` VALUES (\\'x\\');');
CREATE TABLE `odd``name` (
  `id` int
) ENGINE=InnoDB;
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `glance` /*!40100 DEFAULT CHARACTER SET utf8mb3 */;
USE `glance`;
CREATE TABLE `images` (
  `id` varchar(36) NOT NULL
) ENGINE=InnoDB;
INSERT INTO `images` VALUES ('1');
"""
TABLES = {"keystone": {"project": 2, "odd`name": 0}, "glance": {"images": 1}}
PROOF = "keystone\tproject\t2\nkeystone\todd`name\t0\nglance\timages\t1\n"


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def site(config_dir: Path) -> Site:
    return load_site(config_dir)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """An engine whose backups volume holds the dump the dump task makes, and whose
    proof finds every table with its rows."""
    engine = FakeEngine("localhost", every_image=True)
    for volume in ("colla_backups", "keystone_fernet_keys", "keystone_credential_keys", "glance"):
        engine.create_volume(volume, {LABEL_MANAGED: "true"})
    engine.volume_data["colla_backups"] = _tar({DUMP_NAME: DUMP})
    engine.volume_data["keystone_fernet_keys"] = _tar({"colla-target/0": b"key0"})
    engine.results[TASK_PREFIX + "mariadb-backup-proof"] = (0, PROOF)
    monkeypatch.setattr("colla.backup.take.now", lambda: CREATED)
    monkeypatch.setattr(DockerEngine, "connect", staticmethod(lambda: engine))
    return engine


@pytest.fixture
def history(site: Site) -> Iterator[History]:
    opened = History(site.config_dir / "history.sqlite")
    yield opened
    opened.close()


def _say(_: str) -> None:
    pass


def test_rows_are_counted_from_the_dump_one_line_per_row() -> None:
    assert archive.count_rows(DUMP.splitlines(keepends=True)) == TABLES


def test_the_proofs_output_is_read_with_its_escapes() -> None:
    assert parse_counts("noise\nnova\ta\\tb\t3\n") == {"nova": {"a\tb": 3}}


def test_a_backup_holds_the_dump_volumes_config_and_history_and_is_proven(
    site: Site, fake: FakeEngine, history: History
) -> None:
    assert run(["certs", "-c", str(site.config_dir)]) == ExitStatus.OK
    taken = take_backup(site, {"localhost": fake}, history, _say)
    assert taken.path.parent == site.config_dir / "backups"
    assert stat.S_IMODE(taken.path.stat().st_mode) == 0o600
    assert not list(taken.path.parent.glob("*.part"))
    assert not [p for p in taken.path.parent.iterdir() if p.is_dir()]  # staging removed
    with archive.opened(taken.path) as (manifest, scratch):
        assert manifest.databases == TABLES
        assert manifest.verified
        assert manifest.deployment == history.deployment
        assert manifest.volumes == {
            "keystone_fernet_keys": "keystone",
            "keystone_credential_keys": "keystone",
            "glance": "glance",
        }
        assert (scratch / archive.DUMP).read_bytes() == DUMP
        assert (scratch / "config/globals.yml").is_file()
        assert (scratch / "config/passwords.yml").is_file()
        assert (scratch / "config/certificates/ca/root.key").is_file()
        assert (scratch / "config/certificates/haproxy-internal.pem").is_file()
        assert deployment_of(scratch / archive.HISTORY) == history.deployment
        with tarfile.open(scratch / "volumes/keystone_fernet_keys.tar") as tar:
            assert tar.getnames() == ["colla-target/0"]
    ran = [r.name for r in fake.ran]
    assert ran.index(TASK_PREFIX + "mariadb-backup-dump") < ran.index(
        TASK_PREFIX + "mariadb-backup-proof"
    )
    assert TASK_PREFIX + "mariadb-backup-clean" in ran  # the dump leaves the volume


def test_a_backup_whose_dump_does_not_load_whole_is_not_kept(
    site: Site, fake: FakeEngine, history: History
) -> None:
    fake.results[TASK_PREFIX + "mariadb-backup-proof"] = (0, PROOF.replace("\t2\n", "\t1\n"))
    with pytest.raises(CollaError, match=r"keystone\.project has 1 rows, the dump holds 2"):
        take_backup(site, {"localhost": fake}, history, _say)
    backups = site.config_dir / "backups"
    assert list(backups.iterdir()) == []
    assert TASK_PREFIX + "mariadb-backup-clean" in [r.name for r in fake.ran]


def test_keep_prunes_only_this_deployments_older_archives(
    site: Site, fake: FakeEngine, history: History
) -> None:
    backups = site.config_dir / "backups"
    backups.mkdir()
    mine = history.deployment[:12]
    older = backups / f"colla-backup-{mine}-20261201T000000Z.tar.gz"
    other = backups / "colla-backup-0123456789ab-20261201T000000Z.tar.gz"
    operators = backups / "notes.tar.gz"
    for path in (older, other, operators):
        path.write_bytes(b"x")
    taken = take_backup(site, {"localhost": fake}, history, _say, keep=1)
    assert taken.pruned == (older,)
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        [taken.path.name, other.name, operators.name]
    )


def _archive(site: Site, fake: FakeEngine, history: History) -> Path:
    return take_backup(site, {"localhost": fake}, history, _say).path


def test_a_truncated_archive_is_refused_whole(
    site: Site, fake: FakeEngine, history: History, tmp_path: Path
) -> None:
    path = _archive(site, fake, history)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadInput, match=r"cut\.tar\.gz: not a whole"), archive.opened(cut):
        pass


def test_an_altered_member_or_a_foreign_file_is_refused(
    site: Site, fake: FakeEngine, history: History, tmp_path: Path
) -> None:
    path = _archive(site, fake, history)
    with archive.opened(path) as (manifest, scratch):
        (scratch / archive.DUMP).write_bytes(DUMP + b"DROP DATABASE keystone;\n")
        altered = tmp_path / "altered.tar.gz"
        archive.write_archive(altered, manifest, scratch)
    checksum = r"databases\.sql does not match its checksum"
    with pytest.raises(BadInput, match=checksum), archive.opened(altered):
        pass
    other = tmp_path / "other.tar.gz"
    other.write_bytes(b"not a backup at all")
    with pytest.raises(BadInput, match=r"other\.tar\.gz: not a whole"), archive.opened(other):
        pass


def test_a_member_that_escapes_or_is_not_in_the_manifest_is_refused(tmp_path: Path) -> None:
    manifest = {
        "format": 1,
        "deployment": "d" * 32,
        "created": CREATED,
        "colla_version": "0",
        "release": "zed",
        "dump": "",
        "databases": {},
        "volumes": {},
        "files": {},
        "verified": False,
    }
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), ("../x", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BadInput, match=r"unexpected member '\.\./x'"), archive.opened(path):
        pass
    assert not (tmp_path.parent / "x").exists()


def test_a_backup_of_another_deployment_is_refused(
    site: Site, fake: FakeEngine, history: History, tmp_path: Path
) -> None:
    path = _archive(site, fake, history)
    catalog = load_services()
    with archive.opened(path) as (manifest, _):
        check_deployment(manifest, path, site.config_dir, catalog)  # its own: fine
        check_deployment(manifest, path, tmp_path / "fresh", catalog)  # a new machine: fine
        foreign = manifest.model_copy(update={"deployment": "f" * 32})
        with pytest.raises(BadInput, match=r"a backup of deployment ffffffffffff, not of"):
            check_deployment(foreign, path, site.config_dir, catalog)


def test_config_files_are_written_where_missing_and_the_operators_are_kept(
    site: Site, fake: FakeEngine, history: History, tmp_path: Path
) -> None:
    path = _archive(site, fake, history)
    target = tmp_path / "target"
    target.mkdir()
    (target / "globals.yml").write_text("# the operator's own\n")
    with archive.opened(path) as (_, scratch):
        done = write_config(scratch, target)
    assert done.kept == [target / "globals.yml"]
    assert (target / "globals.yml").read_text() == "# the operator's own\n"
    passwords = target / "passwords.yml"
    assert passwords in done.written
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    done.undo()
    assert sorted(p.name for p in target.iterdir()) == ["globals.yml"]


def _refused_restore(path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`colla restore` fails with one line: that line."""
    capsys.readouterr()
    code = run(["restore", str(path), "-c", str(config_dir), "--no-deploy"])
    err = capsys.readouterr().err
    assert code != ExitStatus.OK
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_a_restore_onto_a_running_cloud_changes_nothing(
    site: Site,
    fake: FakeEngine,
    history: History,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["certs", "-c", str(site.config_dir)]) == ExitStatus.OK  # a directory tree
    path = _archive(site, fake, history)
    fake.add("keystone", labels={LABEL_MANAGED: "true"})
    fresh = tmp_path / "fresh"
    err = _refused_restore(path, fresh, capsys)
    assert "the cloud is running (localhost/keystone)" in err
    # Only the lock file colla takes: the files and directories it wrote went again.
    assert [p.name for p in fresh.rglob("*") if not p.name.startswith(".")] == []
    assert not [c for c in fake.calls if c.startswith("put volume")]


def test_a_restore_puts_back_history_volumes_and_databases(
    site: Site,
    fake: FakeEngine,
    history: History,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _archive(site, fake, history)
    deployment = history.deployment
    fresh = tmp_path / "fresh"
    fake.volume_data.clear()
    fake.ran.clear()
    assert run(["restore", str(path), "-c", str(fresh), "--no-deploy"]) == ExitStatus.OK
    assert deployment_of(fresh / "history.sqlite") == deployment
    passwords = (site.config_dir / "passwords.yml").read_bytes()
    assert (fresh / "passwords.yml").read_bytes() == passwords
    with tarfile.open(fileobj=io.BytesIO(fake.volume_data["keystone_fernet_keys"])) as tar:
        assert tar.getnames() == ["colla-target/0"]
    with tarfile.open(fileobj=io.BytesIO(fake.volume_data["colla_backups"])) as tar:
        member = tar.extractfile("colla-target/colla-restore.sql")
        assert member is not None and member.read() == DUMP
    ran = [r.name for r in fake.ran]
    assert ran == [TASK_PREFIX + "mariadb-restore-load", TASK_PREFIX + "mariadb-backup-clean"]
    load = fake.ran[0]
    assert load.volumes.get("mariadb") == "/var/lib/mysql"


def test_a_restore_over_existing_databases_asks_for_yes(
    site: Site,
    fake: FakeEngine,
    history: History,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _archive(site, fake, history)
    fake.create_volume("mariadb", {LABEL_MANAGED: "true"})  # a stopped cloud's data
    fresh = tmp_path / "fresh"
    err = _refused_restore(path, fresh, capsys)
    assert "localhost/mariadb holds databases: they are replaced" in err
    assert "pass --yes" in err
    assert not (fresh / "history.sqlite").exists()
    assert run(["restore", str(path), "-c", str(fresh), "--no-deploy", "--yes"]) == 0
    assert deployment_of(fresh / "history.sqlite") == history.deployment
