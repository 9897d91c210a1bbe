"""``colla init``, ``genpwd``, ``prechecks``, ``plan``, ``deploy`` and ``post-deploy``."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from colla.catalog import load_services
from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY, LIMIT
from colla.config.example import write_example
from colla.config.passwords import generate_passwords
from colla.deploy import deployment
from colla.deploy.apply import Applier
from colla.deploy.credentials import write_credentials
from colla.deploy.nodes import parse_limit
from colla.deploy.password_rotation import refuse_unfinished
from colla.deploy.plan import Action, Plan
from colla.deploy.prechecks import Check
from colla.deploy.steps import StepKind
from colla.engine import DockerEngine
from colla.history.pins import history_options, open_history
from colla.lock import locked
from colla.session import session
from colla.site import Site, load_site

_COLOURS = {
    Action.CREATE: "green",
    Action.RECREATE: "yellow",
    Action.START: "cyan",
    Action.RELOAD: "magenta",
    Action.REMOVE: "red",
    Action.NOOP: "dim",
}


def init(
    config_dir: Path = CONFIG_DIR,
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write a commented all-in-one example config (globals.yml, inventory, passwords.yml)."""
    written = write_example(config_dir, load_services().defaults(), force=force)
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"next: colla genpwd -c {config_dir}")


def genpwd(config_dir: Path = CONFIG_DIR) -> None:
    """Fill every missing password in passwords.yml with a strong random one (mode 0600)."""
    catalog = load_services()
    path = config_dir / "passwords.yml"
    with locked(config_dir):
        added = generate_passwords(path, catalog.required_passwords(set(catalog.services)))
    out.print(f"{path}: {len(added)} password(s) generated, existing ones kept")


def print_plan(plan: Plan) -> None:
    """The plan as one table grouped by node (a section and a count line per node), then
    one summary line."""
    table = Table(title="plan")
    for column in ("node", "container", "service", "action", "reason"):
        table.add_column(column)
    grouped = plan.by_node()
    for index, (node, changes) in enumerate(grouped.items()):
        for change in changes:
            colour = _COLOURS[change.action]
            table.add_row(
                change.node,
                change.name,
                change.service,
                f"[{colour}]{change.action}[/]",
                escape("; ".join(change.reasons)),
            )
        if len(grouped) > 1:
            counts = {a: sum(1 for c in changes if c.action is a) for a in Action}
            summary = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
            table.add_row("", f"[dim]{node}: {summary}[/]", end_section=index < len(grouped) - 1)
    out.print(table)
    print_steps(plan)
    counts = {a: sum(1 for c in plan.changes if c.action is a) for a in Action}
    summary = ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "nothing deployed"
    steps = {k: len(plan.steps_of(k)) for k in StepKind}
    if plan.steps:
        summary += "; steps: " + ", ".join(f"{n} {k}" for k, n in steps.items() if n)
    out.print(summary)


def print_steps(plan: Plan) -> None:
    """The plan's steps beside its containers: volumes, config writes, bootstrap tasks,
    in the order the applier runs them (a service's tasks run when its turn comes)."""
    if not plan.steps:
        return
    table = Table(title="steps")
    for column in ("node", "step", "target", "service", "reason"):
        table.add_column(column)
    for step in plan.steps:
        table.add_row(step.node, str(step.kind), step.target, step.service, escape(step.reason))
    out.print(table)


def print_checks(checks: tuple[Check, ...] | list[Check], failed_only: bool = False) -> None:
    """Prechecks as lines."""
    for check in checks:
        if failed_only and check.ok:
            continue
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        out.print(f"{mark} {escape(check.name)}: {escape(check.detail)}")


def pinned(site: Site) -> deployment.DesiredOptions:
    """Services that an upgrade or rollback moved off the globals' tag (or onto the
    alternate API port) stay there: the options of the site's history."""
    project = site.project
    path = Path(project.globals.colla_history_path)
    if not (path if path.is_absolute() else site.config_dir / path).exists():
        return deployment.DesiredOptions()
    history = open_history(project)
    try:
        return history_options(history, project.globals.image_tag)
    finally:
        history.close()


def _prepared(config_dir: Path, inventory: Path | None, limit: str | None) -> deployment.Deployment:
    site = load_site(config_dir, inventory)
    options = replace(pinned(site), limit=parse_limit(limit, site.project))
    # Refused before the engine is contacted, as the rest of the operator's input is.
    deployment.check_local_directories(site)
    return deployment.prepare(site, DockerEngine.connect(), options)


def _require_checks(prepared: deployment.Deployment) -> None:
    failed = prepared.failed_checks
    if failed:
        raise deployment.PrecheckFailed(
            f"{len(failed)} precheck(s) failed, nothing changed: "
            + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        )


def prechecks(
    config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY, limit: str | None = LIMIT
) -> None:
    """Check the engines, interfaces, ports, disk, memory and images; change nothing."""
    prepared = _prepared(config_dir, inventory, limit)
    print_checks(prepared.checks)
    _require_checks(prepared)


def plan(
    config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY, limit: str | None = LIMIT
) -> None:
    """Show what `colla deploy` would change on every node, and why; change nothing."""
    prepared = _prepared(config_dir, inventory, limit)
    print_plan(prepared.plan)
    print_checks(prepared.checks, failed_only=True)


def deploy(
    config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY, limit: str | None = LIMIT
) -> None:
    """Plan every node, show the plan, then apply it in dependency order, gated on health;
    nodes in parallel."""
    started = time.monotonic()

    def say(text: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f}s] {escape(text)}")

    # Its passwords are half rolled out: a deploy would leave the old ones in place.
    refuse_unfinished(config_dir)
    with session(config_dir, say, inventory, limit) as current:
        kept = history_options(current.history, current.project.globals.image_tag)
        prepared = deployment.prepare(
            current.site, current.engine, replace(kept, limit=current.limit), current.engines
        )
        _require_checks(prepared)
        print_plan(prepared.plan)
        if prepared.plan.is_noop:
            out.print(f"nothing to change ({time.monotonic() - started:.1f} s)")
            return
        applier = Applier(current.executor(prepared.engines), prepared.catalog, current.record)
        applier.apply(prepared.plan)
    out.print(f"deployed in {time.monotonic() - started:.1f} s")


def post_deploy(config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY) -> None:
    """Write admin-openrc.sh and clouds.yaml (mode 0600) into the config directory."""
    with locked(config_dir):
        site = load_site(config_dir, inventory)
        written = write_credentials(site.project, site.catalog, site.topology)
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"use the cloud: source {config_dir / 'admin-openrc.sh'}; openstack service list")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(init)
    app.command()(genpwd)
    app.command()(prechecks)
    app.command()(plan)
    app.command()(deploy)
    app.command("post-deploy")(post_deploy)
