"""``colla upgrade``, ``rollback``, ``history``, ``recover`` and ``prune``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from colla import site as site_module
from colla.backup import dumps as kept_dumps
from colla.backup.tasks import database_host, remove_task
from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY, LIMIT, checked_tag
from colla.deploy.tasks import last_lines, run_collecting
from colla.errors import BadInput, CollaError, EngineError
from colla.history.pins import open_history
from colla.history.prune import prunable, unneeded_dumps, unneeded_images
from colla.lock import command_line
from colla.model.specs import LABEL_MANAGED
from colla.session import session
from colla.site import Site
from colla.upgrade.operations import rollback_plan, upgrade_plan
from colla.upgrade.preview import SwapPreview, already_applied, preview
from colla.upgrade.swap import recover


def _say_from(started: float) -> Callable[[str], None]:
    def say(text: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f}s] {escape(text)}")

    return say


def _print_swap(shown: SwapPreview) -> None:
    table = Table(title=f"{shown.kind} of {shown.service}")
    for column in ("node", "container", "from", "to", "changes"):
        table.add_column(column)
    for row in shown.rows:
        table.add_row(row.node, row.container, row.running, row.new, escape("; ".join(row.reasons)))
    out.print(table)
    out.print("steps: " + ", ".join(shown.steps))


def upgrade(
    service: str | None = typer.Argument(None, help="A service (default: every enabled one)."),
    tag: str = typer.Option(
        ..., "--tag", callback=checked_tag, help="The image tag to upgrade to."
    ),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    limit: str | None = LIMIT,
) -> None:
    """Upgrade a service to new images: backup, migrate, swap, verify, or roll back."""
    started = time.monotonic()
    say = _say_from(started)
    with session(config_dir, say, inventory, limit) as current:
        services = [service] if service else _enabled_in_order(current.site)
        for name in services:
            plan = upgrade_plan(
                current.site,
                current.engine,
                current.history,
                name,
                tag,
                command_line(),
                current.limit,
                current.engines,
            )
            if already_applied(plan, current.engines):
                out.print(f"{name}: already at {tag}")
                continue
            _print_swap(preview(plan, current.engines))
            revisions = current.swapper().run(plan)
            out.print(f"{name}: upgraded to {tag} (revision {', '.join(map(str, revisions))})")
    out.print(f"done in {time.monotonic() - started:.1f} s")


def _enabled_in_order(site: Site) -> list[str]:
    enabled = {n for n, on in site.project.globals.enabled.items() if on}
    return [name for level in site.catalog.levels(enabled) for name in level]


def rollback(
    service: str = typer.Argument(..., help="The service to roll back."),
    to: int | None = typer.Option(None, "--to", help="A revision ID (default: the previous)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before restoring a dump."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    limit: str | None = LIMIT,
) -> None:
    """Put a service back to an earlier revision: its image, its config, its database."""
    started = time.monotonic()
    say = _say_from(started)
    with session(config_dir, say, inventory, limit) as current:
        plan, dump = rollback_plan(
            current.site,
            current.engine,
            current.history,
            service,
            to,
            command_line(),
            current.limit,
            current.engines,
        )
        _print_swap(preview(plan, current.engines))
        if dump is not None:
            warning = (
                f"the database of {service} goes back to the dump taken before revision "
                f"{dump.id} ({dump.created_at}): data written since then is lost"
            )
            err.print(f"[yellow]warning:[/] {escape(warning)}")
            if not yes and not typer.confirm("roll back and restore the dump?", default=False):
                raise CollaError("rollback: not confirmed; nothing changed")
        revisions = current.swapper().run(plan)
        out.print(f"{service}: rolled back (revision {', '.join(map(str, revisions))})")
    out.print(f"done in {time.monotonic() - started:.1f} s")


def history(
    service: str | None = typer.Argument(None, help="Only this service."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """The revisions of every container: image, status, when, by which command."""
    site = site_module.load_site(config_dir, inventory)
    if service is not None and service not in site.catalog.services:
        raise BadInput(f"unknown service '{service}'")
    store = open_history(site.project)
    try:
        revisions = store.revisions(service)
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps([r.summary() for r in revisions]))
        return
    table = Table()
    for column in (
        "rev",
        "service",
        "container",
        "operation",
        "status",
        "image",
        "created",
        "note",
    ):
        table.add_column(column)
    for r in revisions:
        table.add_row(
            str(r.id),
            r.service,
            r.container,
            r.operation,
            r.status,
            f"{r.image} ({r.image_id[7:19]})",
            r.created_at,
            escape(r.note),
        )
    out.print(table)


def recover_command(config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY) -> None:
    """Complete or revert an upgrade or rollback that a killed colla left unfinished."""
    say = _say_from(time.monotonic())
    # No --limit: an unfinished swap may have touched any node, and all are needed.
    with session(config_dir, say, inventory) as current:
        # Opening the session already recovered what it found.
        done = current.recovered or recover(current.swapper(), current.history, say)
    out.print("; ".join(done) if done else "nothing to recover")


def prune(
    keep: int = typer.Option(..., "--keep", min=1, help="Revisions to keep per container."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Forget all but the last N revisions per container and remove images none needs."""
    say = _say_from(time.monotonic())
    with session(config_dir, say, inventory) as current:
        revisions = current.history.revisions()
        doomed = prunable(revisions, keep)
        current.history.delete_revisions(doomed)
        in_use = [c.image_id for c in current.engine.containers(f"{LABEL_MANAGED}=true")]
        removed = 0
        for image_id in unneeded_images(revisions, current.history.revisions(), in_use):
            if current.engine.image(image_id) is None:
                continue
            try:
                current.engine.remove_image(image_id)
            except EngineError as e:
                # An image other images are built on stays; prune goes on with the rest.
                err.print(f"kept image {image_id[7:19]}: {escape(str(e))}")
                continue
            removed += 1
        dumps = unneeded_dumps(revisions, current.history.revisions())
        if dumps:
            db = database_host(current.site)
            task = remove_task(db, *(f"{name}.sql" for name in dumps))
            code, output = run_collecting(current.engines, task)
            if code != 0:
                last = last_lines(output)
                raise CollaError(f"prune: removing {len(dumps)} dump(s) failed ({last})")
            kept_dumps.forget(current.site, dumps)
    out.print(
        f"forgot {len(doomed)} revision(s), removed {removed} image(s)"
        f" and {len(dumps)} pre-upgrade dump(s)"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(upgrade)
    app.command()(rollback)
    app.command()(history)
    app.command("recover")(recover_command)
    app.command()(prune)
