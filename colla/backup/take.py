"""``colla backup``: one archive of a running deployment, proven before it is kept.

It holds every database as one consistent dump, the volumes the catalog names
(``backup_volumes``: the keystone keys, the image store), the config directory's files
and a copy of the history. The dump is loaded into a scratch server and every table
must come back with the rows the dump holds; an archive that fails that is not kept.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from colla import __version__
from colla.backup import archive
from colla.backup.tasks import (
    DatabaseHost,
    backed_up_databases,
    count_queries,
    database_host,
    dump_task,
    parse_counts,
    proof_task,
    remove_task,
)
from colla.certs import cert_paths
from colla.deploy.infra import BACKUP_VOLUME
from colla.deploy.tasks import last_lines, run_collecting
from colla.deploy.taskspecs import image_ref
from colla.engine import Engine
from colla.errors import CollaError
from colla.history.store import History, now
from colla.site import Site

Say = Callable[[str], None]
DUMP_METHOD = "mariadb-dump --single-transaction --skip-extended-insert (logical, one snapshot)"


@dataclass(frozen=True)
class Taken:
    """A kept archive and what it holds."""

    path: Path
    manifest: archive.Manifest
    pruned: tuple[Path, ...]


def backup_dir(site: Site) -> Path:
    """Where archives go by default (``colla_backup_dir``, under the config dir)."""
    path = Path(site.project.globals.colla_backup_dir)
    return path if path.is_absolute() else site.config_dir / path


def _save(stream: Iterable[bytes], path: Path) -> None:
    with path.open("wb") as handle:
        for chunk in stream:
            handle.write(chunk)


def _fetch_dump(db: DatabaseHost, engine: Engine, dump: str, staged: Path) -> None:
    volume = db.site.project.globals.colla_volume_prefix + BACKUP_VOLUME
    carrier = staged / "dump.tar"
    _save(engine.read_volume(volume, dump, image_ref(db.site.project, db.image)), carrier)
    with tarfile.open(carrier) as tar:
        member = tar.getmember(dump)
        handle = tar.extractfile(member)
        if handle is None:
            raise CollaError(f"backup: {dump} came back from {db.node} as no file")
        with handle, (staged / archive.DUMP).open("wb") as out:
            shutil.copyfileobj(handle, out)
    carrier.unlink()


def _prove(
    db: DatabaseHost, engines: Mapping[str, Engine], dump: str, tables: dict[str, dict[str, int]]
) -> None:
    """Load the dump into a scratch server; CollaError unless every table has its rows."""
    code, output = run_collecting(engines, proof_task(db, dump, count_queries(db, tables)))
    if code != 0:
        last = last_lines(output)
        raise CollaError(f"backup: the dump did not load into a scratch server ({last})")
    found = parse_counts(output)
    for database, names in sorted(tables.items()):
        for table, rows in sorted(names.items()):
            got = found.get(database, {}).get(table)
            if got != rows:
                raise CollaError(
                    f"after loading the dump {dump}, {database}.{table} has "
                    f"{'no table' if got is None else f'{got} rows'}, the dump holds {rows}"
                )


def _counted(
    db: DatabaseHost, engines: Mapping[str, Engine], dump: str, staged: Path, prove: bool
) -> dict[str, dict[str, int]]:
    """Fetch the dump into ``staged``, count its rows, and (``prove``) check them in a
    scratch server."""
    engine = engines.get(db.node)
    if engine is None:
        raise CollaError(f"node {db.node}, where the database server runs, is left out")
    _fetch_dump(db, engine, dump, staged)
    with (staged / archive.DUMP).open("rb") as handle:
        tables = archive.count_rows(handle)
    if prove:
        _prove(db, engines, dump, tables)
    return tables


def prove_dump(
    db: DatabaseHost,
    engines: Mapping[str, Engine],
    dump: str,
    proven: Callable[[Path, dict[str, dict[str, int]]], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Prove a dump in the backups volume (an upgrade's, before it migrates): loaded into
    a scratch server, every table has the rows the dump holds. Its tables and rows;
    CollaError when it fails. ``proven`` gets the fetched copy (a local file, gone
    after the call) and the rows, once proven."""
    staged = Path(tempfile.mkdtemp(prefix="colla-proof-"))
    try:
        tables = _counted(db, engines, dump, staged, True)
        if proven is not None:
            proven(staged / archive.DUMP, tables)
        return tables
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _config_files(site: Site, staged: Path) -> None:
    """The operator's files, under config/ by their path in the config directory."""
    project = site.project
    paths = [site.config_dir / "globals.yml", site.config_dir / "passwords.yml"]
    if project.inventory_path is not None:
        paths.append(project.inventory_path)
    paths += list(project.overrides)
    # The CA and its certificates: a restored cloud keeps the CA its clients trust.
    certs = cert_paths(site.config_dir, project.globals)
    paths += [certs.ca_cert, certs.ca_key, certs.internal, certs.external]
    for path in paths:
        if not path.is_file():
            continue
        try:
            relative = path.resolve().relative_to(site.config_dir.resolve())
        except ValueError:
            relative = Path(path.name)  # an inventory given with -i from elsewhere
        target = staged / archive.CONFIG / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _volumes(site: Site, engines: Mapping[str, Engine], staged: Path, say: Say) -> dict[str, str]:
    found: dict[str, str] = {}
    prefix = site.project.globals.colla_volume_prefix
    for name in sorted(site.enabled):
        service = site.catalog[name]
        for volume in service.backup_volumes:
            node = service.first_host(site.project.inventory).name
            engine = engines.get(node)
            if engine is None:
                raise CollaError(f"backup: node {node}, which holds volume {volume}, is left out")
            say(f"{node}: copying volume {prefix}{volume}")
            target = staged / archive.VOLUMES / f"{volume}.tar"
            target.parent.mkdir(parents=True, exist_ok=True)
            image = image_ref(site.project, service.containers[0].image)
            _save(engine.read_volume(prefix + volume, "", image), target)
            found[volume] = name
    return found


def take_backup(
    site: Site,
    engines: Mapping[str, Engine],
    history: History,
    say: Say,
    output: Path | None = None,
    prove: bool = True,
    keep: int | None = None,
) -> Taken:
    """Back up the running deployment into one archive (mode 0600), proven by loading
    its dump unless ``prove`` is False; then keep only the newest ``keep`` archives of
    this deployment in the backup directory."""
    deployment = history.deployment
    created = now()
    target = output or backup_dir(site) / archive.archive_name(deployment, created)
    target.parent.mkdir(parents=True, exist_ok=True)
    db = database_host(site)
    dump = f"colla-backup-{created.replace(':', '')}.sql"
    staged = Path(tempfile.mkdtemp(prefix="colla-backup-", dir=target.parent))
    try:
        databases = backed_up_databases(site)
        say(f"{db.node}: dumping {len(databases)} database(s)")
        code, output_text = run_collecting(engines, dump_task(db, databases, dump))
        if code != 0:
            last = last_lines(output_text)
            raise CollaError(f"backup: the database dump failed on {db.node} ({last})")
        try:
            if prove:
                say(f"{db.node}: loading the dump into a scratch server")
            tables = _counted(db, engines, dump, staged, prove)
        finally:
            run_collecting(engines, remove_task(db, dump))
        volumes = _volumes(site, engines, staged, say)
        _config_files(site, staged)
        history.copy_to(staged / archive.HISTORY)
        manifest = archive.Manifest(
            format=archive.FORMAT,
            deployment=deployment,
            created=created,
            colla_version=__version__,
            release=site.project.globals.openstack_release,
            dump=DUMP_METHOD,
            databases=tables,
            volumes=volumes,
            files=archive.members_of(staged),
            verified=prove,
        )
        archive.write_archive(target, manifest, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    pruned = []
    if keep is not None:
        for old in archive.prunable(target.parent, deployment, keep):
            old.unlink()
            pruned.append(old)
    return Taken(target, manifest, tuple(pruned))
