"""``colla restore``: a backup archive put back, onto the same machine after `destroy
--volumes` or onto new ones, while none of the cloud's containers runs.

Order: the archive is read and checked whole; the config files it holds are written
where the config directory has none (the operator's own are kept, and listed when they
differ); the deployment is loaded and its nodes reached, and the restore is refused
while a container of it runs; then the history, the volumes and the databases are put
back. A `colla deploy` then starts the cloud on the restored data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from colla.backup import archive
from colla.backup.tasks import database_host, load_task, remove_task
from colla.config.globals import load_globals
from colla.deploy.infra import BACKUP_VOLUME
from colla.deploy.tasks import last_lines, run_collecting
from colla.deploy.taskspecs import image_ref
from colla.engine import Engine
from colla.engine.transfer import HELPER_MOUNT
from colla.errors import BadInput, CollaError
from colla.history.peek import deployment_of
from colla.history.store import now
from colla.model.services import ServiceCatalog
from colla.model.specs import LABEL_MANAGED, LABEL_NODE
from colla.site import Site

Say = Callable[[str], None]
RESTORE_DUMP = "colla-restore.sql"


@dataclass
class ConfigWritten:
    """What the restore did to the config directory."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # the operator's, differing from the archive's
    made: list[Path] = field(default_factory=list)  # directories it had to make

    def undo(self) -> None:
        """Remove the files and directories this restore made (it is refused after all)."""
        for path in reversed(self.written):
            with contextlib.suppress(OSError):
                path.unlink()
        for directory in reversed(self.made):
            with contextlib.suppress(OSError):
                directory.rmdir()


def check_deployment(
    manifest: archive.Manifest, source: Path, config_dir: Path, catalog: ServiceCatalog
) -> None:
    """BadInput when the config directory's history belongs to another deployment."""
    globals_path = config_dir / "globals.yml"
    history_name = "history.sqlite"
    if globals_path.is_file():
        read = load_globals(globals_path, catalog.defaults(), catalog.parts())
        history_name = read.colla_history_path
    history = Path(history_name)
    history = history if history.is_absolute() else config_dir / history
    found = deployment_of(history)
    if found is not None and found != manifest.deployment:
        raise BadInput(
            f"{source}: a backup of deployment {manifest.deployment[:12]}, not of "
            f"{config_dir}'s ({found[:12]}); nothing changed"
        )


def write_config(scratch: Path, config_dir: Path) -> ConfigWritten:
    """The archive's config files, each written (mode 0600) where the config directory
    has none; an existing file is the operator's and stays."""
    done = ConfigWritten()
    root = scratch / archive.CONFIG
    if not root.is_dir():
        return done
    for source in sorted(root.rglob("*")):
        if not source.is_file():
            continue
        target = config_dir / source.relative_to(root)
        if target.exists():
            if not target.is_file() or target.read_bytes() != source.read_bytes():
                done.kept.append(target)
            continue
        missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
        done.made += reversed(missing)  # outermost first, so undo removes innermost first
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(source.read_bytes())
        done.written.append(target)
    return done


def refuse_running(site: Site, engines: Mapping[str, Engine], source: Path) -> None:
    """BadInput while any container of the cloud runs on its nodes: a restore under a
    serving cloud would mix its writes with the backup's data."""
    running = sorted(
        f"{c.labels.get(LABEL_NODE, node)}/{c.name}"
        for node, engine in engines.items()
        for c in engine.containers(f"{LABEL_MANAGED}=true")
        if c.state == "running"
    )
    if running:
        shown = ", ".join(sorted(set(running))[:3]) + (" …" if len(set(running)) > 3 else "")
        raise BadInput(
            f"{source}: the cloud is running ({shown}); stop it (colla stop, or colla "
            "destroy) before a restore; nothing changed"
        )


def data_in_the_way(site: Site, engines: Mapping[str, Engine]) -> list[str]:
    """The database server's data volume, when it exists already: its databases are
    replaced by the backup's, and what was written since the backup is lost."""
    db = database_host(site)
    volume = site.project.globals.colla_volume_prefix + db.how.data_volume
    return [f"{db.node}/{volume}"] if volume in engines[db.node].all_volumes() else []


def check_catalog(site: Site, manifest: archive.Manifest, source: Path) -> None:
    """BadInput when the archive names a volume this catalog cannot place."""
    for volume, service in manifest.volumes.items():
        known = site.catalog.services.get(service)
        if known is None or volume not in known.backup_volumes:
            raise BadInput(
                f"{source}: volume {volume} of service {service} is unknown to this colla; "
                "nothing changed"
            )


def _put_history(site: Site, scratch: Path, say: Say) -> None:
    path = Path(site.project.globals.colla_history_path)
    path = path if path.is_absolute() else site.config_dir / path
    if path.exists():
        aside = path.with_name(f"{path.name}.before-restore-{now().replace(':', '')}")
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(path.with_name(path.name + suffix), aside.with_name(aside.name + suffix))
        say(f"history: the one replaced is kept as {aside}")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as handle, (scratch / archive.HISTORY).open("rb") as source:
        shutil.copyfileobj(source, handle)


def _put_volumes(
    site: Site,
    engines: Mapping[str, Engine],
    manifest: archive.Manifest,
    scratch: Path,
    say: Say,
) -> None:
    prefix = site.project.globals.colla_volume_prefix
    for volume, name in sorted(manifest.volumes.items()):
        service = site.catalog[name]
        node = service.first_host(site.project.inventory).name
        engine = engines[node]
        engine.create_volume(prefix + volume, {LABEL_MANAGED: "true"})
        image = image_ref(site.project, service.containers[0].image)
        with (scratch / archive.VOLUMES / f"{volume}.tar").open("rb") as data:
            engine.put_volume(prefix + volume, data, image, replace=True)
        say(f"{node}: volume {prefix}{volume} restored")


def _put_databases(site: Site, engines: Mapping[str, Engine], scratch: Path, say: Say) -> None:
    db = database_host(site)
    engine = engines[db.node]
    prefix = site.project.globals.colla_volume_prefix
    for volume in (BACKUP_VOLUME, db.how.data_volume):
        engine.create_volume(prefix + volume, {LABEL_MANAGED: "true"})
    carrier = scratch / "dump.tar"
    with tarfile.open(carrier, mode="w") as tar:
        tar.add(scratch / archive.DUMP, arcname=f"{HELPER_MOUNT.strip('/')}/{RESTORE_DUMP}")
    with carrier.open("rb") as data:
        engine.put_volume(prefix + BACKUP_VOLUME, data, image_ref(site.project, db.image), False)
    carrier.unlink()
    say(f"{db.node}: loading the databases")
    try:
        code, output = run_collecting(engines, load_task(db, RESTORE_DUMP))
    finally:
        run_collecting(engines, remove_task(db, RESTORE_DUMP))
    if code != 0:
        last = last_lines(output)
        raise CollaError(f"restore: loading the databases failed on {db.node} ({last})")


def put_back(
    site: Site,
    engines: Mapping[str, Engine],
    manifest: archive.Manifest,
    scratch: Path,
    say: Say,
) -> None:
    """The history, the volumes and the databases of the archive, onto the site's nodes
    (checked already: same deployment, nothing running)."""
    _put_history(site, scratch, say)
    _put_volumes(site, engines, manifest, scratch, say)
    _put_databases(site, engines, scratch, say)
