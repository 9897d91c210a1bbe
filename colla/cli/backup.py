"""``colla backup`` and ``colla restore``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape

from colla.backup import archive
from colla.backup.restore import (
    check_catalog,
    check_deployment,
    data_in_the_way,
    put_back,
    refuse_running,
    write_config,
)
from colla.backup.take import take_backup
from colla.catalog import load_services
from colla.cli import deploy as deploy_cli
from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy import deployment
from colla.engine import DockerEngine
from colla.errors import BadInput
from colla.lock import locked
from colla.project import absolute
from colla.session import session
from colla.site import load_site


def _say_from(started: float) -> Callable[[str], None]:
    def say(text: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f}s] {escape(text)}")

    return say


def _checked_output(output: Path | None) -> Path | None:
    if output is None:
        return None
    path = absolute(output)
    if path.exists() or path.is_symlink():
        raise BadInput(f"{path}: exists; a backup never overwrites a file, choose another name")
    if not path.name.endswith(archive.SUFFIX):
        raise BadInput(f"{path}: a backup archive's name ends in {archive.SUFFIX}")
    return path


def backup(
    output: Path | None = typer.Option(
        None, "-o", "--output", help="The archive (default: colla_backup_dir, a dated name)."
    ),
    keep: int | None = typer.Option(
        None, "--keep", min=1, help="Then keep only this deployment's newest N archives."
    ),
    verify: bool = typer.Option(
        True, "--verify/--no-verify", help="Prove the dump by loading it (default: on)."
    ),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Back up the running cloud into one archive (mode 0600): every database, the keys,
    the image store, the config directory and the history; proven before it is kept."""
    started = time.monotonic()
    say = _say_from(started)
    target = _checked_output(output)
    with session(config_dir, say, inventory) as current:
        taken = take_backup(
            current.site, current.engines, current.history, say, target, verify, keep
        )
    manifest = taken.manifest
    tables = sum(len(t) for t in manifest.databases.values())
    rows = sum(n for t in manifest.databases.values() for n in t.values())
    proof = (
        "proven: loaded into a scratch server, every table's rows there"
        if verify
        else ("NOT proven (--no-verify)")
    )
    out.print(
        f"{taken.path}: {len(manifest.databases)} database(s), {tables} tables, {rows} rows, "
        f"{len(manifest.volumes)} volume(s); {proof}"
    )
    for old in taken.pruned:
        out.print(f"removed {old} (--keep {keep})")
    out.print(f"done in {time.monotonic() - started:.1f} s")


def restore(
    source: Path = typer.Argument(..., help="A backup archive (colla backup)."),
    deploy: bool = typer.Option(
        True, "--deploy/--no-deploy", help="Then start the cloud (colla deploy)."
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Replace the databases of a data volume that exists, unasked."
    ),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Put a backup back while the cloud does not run: its databases, keys, image store,
    history, and the config files the config directory lacks; then deploy."""
    started = time.monotonic()
    say = _say_from(started)
    source = absolute(source)
    with locked(config_dir), archive.opened(source) as (manifest, scratch):
        check_deployment(manifest, source, config_dir, load_services())
        written = write_config(scratch, config_dir)
        try:
            site = load_site(config_dir, inventory)
            check_catalog(site, manifest, source)
            engines = deployment.engines_for(site.project, DockerEngine.connect())
            refuse_running(site, engines, source)
            _confirm(data_in_the_way(site, engines), manifest.created, yes)
        except BaseException:
            written.undo()
            raise
        for path in written.written:
            out.print(f"wrote {path} (from the backup)")
        for path in written.kept:
            out.print(f"kept {path}: yours differs from the backup's")
        put_back(site, engines, manifest, scratch, say)
    out.print(
        f"restored {source.name}: made {manifest.created} of deployment "
        f"{manifest.deployment[:12]} ({len(manifest.databases)} database(s), "
        f"{len(manifest.volumes)} volume(s))"
    )
    if deploy:
        deploy_cli.deploy(config_dir, inventory, None)


def _confirm(volumes: list[str], created: str, yes: bool) -> None:
    """Ask before databases that exist are replaced (--yes: do not ask)."""
    if not volumes or yes:
        return
    what = (
        f"{', '.join(volumes)} holds databases: they are replaced by the backup's of "
        f"{created}, and everything written since is lost"
    )
    if not sys.stdin.isatty():
        raise BadInput(f"restore: {what}; pass --yes to go on; nothing changed")
    if not typer.confirm(f"{what}. Go on?", default=False):
        raise BadInput("restore: not confirmed; nothing changed")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(backup)
    app.command()(restore)
