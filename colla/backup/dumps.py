"""Pre-upgrade dumps, kept off the database's disk.

An upgrade dumps the service's databases into the backups volume on the database host
and proves the dump before anything migrates; the proof fetches it to this machine.
That copy is kept here, under ``colla_backup_dir/upgrades/`` (mode 0600), with a
manifest: the dump's name, this deployment, when, its SHA-256 and every table's rows.
A restore (a rollback, or the revert of a failed upgrade) first puts the kept copy back
into the volume, checked against its SHA-256, so a lost or damaged copy on the database
host neither loses the way back nor restores something else. ``colla prune`` forgets
both copies with the revisions that name them.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from colla.backup.archive import sha256_of
from colla.backup.take import backup_dir
from colla.backup.tasks import DatabaseHost
from colla.config.passwords import write_atomically
from colla.deploy.infra import BACKUP_VOLUME
from colla.deploy.taskspecs import image_ref
from colla.engine import Engine
from colla.errors import CollaError
from colla.history.store import now
from colla.site import Site

UPGRADES = "upgrades"
# put_volume extracts at the volume's root the members under this name.
_TARGET = "colla-target"


def dumps_dir(site: Site) -> Path:
    """Where pre-upgrade dumps are kept on this machine."""
    return backup_dir(site) / UPGRADES


def keep(
    site: Site,
    name: str,
    dump: Path,
    tables: Mapping[str, Mapping[str, int]],
    deployment: str,
) -> Path:
    """Keep a copy of the proven dump ``name`` (the local file ``dump``) and its
    manifest; the copy's path."""
    directory = dumps_dir(site)
    target = directory / f"{name}.sql"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with dump.open("rb") as source:
            write_atomically(target, source, 0o600)
    except OSError as e:
        raise CollaError(f"{e.filename or directory}: cannot keep the dump: {e.strerror}") from None
    manifest = {
        "name": name,
        "deployment": deployment,
        "created": now(),
        "sha256": sha256_of(target)[0],
        "tables": {db: dict(rows) for db, rows in sorted(tables.items())},
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_atomically(directory / f"{name}.json", text.encode(), 0o600)
    return target


def stage(db: DatabaseHost, engine: Engine, name: str) -> bool:
    """Put the kept copy of dump ``name`` back into the backups volume on the database
    host, after checking it against its manifest. False when none is kept (a dump from
    before colla kept them: the volume's own is used)."""
    directory = dumps_dir(db.site)
    path, manifest = directory / f"{name}.sql", directory / f"{name}.json"
    if not path.is_file() or not manifest.is_file():
        return False
    try:
        wanted = json.loads(manifest.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CollaError(f"{manifest}: unreadable manifest; not restoring from {path}") from None
    if sha256_of(path)[0] != wanted:
        raise CollaError(f"{path}: differs from its manifest's SHA-256; not restoring from it")
    carrier = io.BytesIO()
    with tarfile.open(fileobj=carrier, mode="w") as tar:
        info = tar.gettarinfo(str(path), arcname=f"{_TARGET}/{name}.sql")
        # As the dump task itself leaves it (root's, its umask's mode), so that any task
        # user reads it; the volume is only mounted by colla's database tasks.
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o644
        with path.open("rb") as handle:
            tar.addfile(info, handle)
    carrier.seek(0)
    volume = db.site.project.globals.colla_volume_prefix + BACKUP_VOLUME
    engine.put_volume(volume, carrier, image_ref(db.site.project, db.image), replace=False)
    return True


def forget(site: Site, names: Iterable[str]) -> int:
    """Remove the kept copies (and manifests) of dumps ``names``; how many there were."""
    directory = dumps_dir(site)
    removed = 0
    for name in names:
        found = False
        for path in (directory / f"{name}.sql", directory / f"{name}.json"):
            if path.exists():
                path.unlink()
                found = True
        removed += found
    return removed
