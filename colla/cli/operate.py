"""``colla status``, ``logs``, ``stop``, ``destroy`` and ``check``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy import deployment
from colla.deploy.audit import audit as audit_rows
from colla.deploy.check import run_checks
from colla.deploy.credentials import admin_auth
from colla.deploy.desired import enabled_services
from colla.deploy.prechecks import topology
from colla.deploy.specs import LABEL_MANAGED, LABEL_NODE, LABEL_SERVICE, LABEL_SPEC
from colla.engine import ContainerInfo, Engine
from colla.errors import BadInput, CollaError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _managed(engine: Engine, service: str | None = None) -> list[ContainerInfo]:
    found = sorted(engine.containers(f"{LABEL_MANAGED}=true"), key=lambda c: c.name)
    if service is None:
        return found
    chosen = [c for c in found if service in (c.labels.get(LABEL_SERVICE), c.name)]
    if not chosen:
        known = sorted({c.labels.get(LABEL_SERVICE, "") for c in found} | {c.name for c in found})
        raise BadInput(
            f"no deployed service or container '{service}' (deployed: {', '.join(known)})"
        )
    return chosen


def _uptime(started_at: str, state: str) -> str:
    if state != "running" or not started_at:
        return "-"
    try:
        started = datetime.datetime.fromisoformat(started_at[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return "?"
    seconds = int((datetime.datetime.now(datetime.UTC) - started).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """A table of colla's containers: node, service, image, health, uptime."""
    rows = []
    for c in _managed(Engine.connect()):
        spec = json.loads(c.labels.get(LABEL_SPEC, "{}") or "{}")
        rows.append(
            {
                "node": c.labels.get(LABEL_NODE, ""),
                "service": c.labels.get(LABEL_SERVICE, ""),
                "container": c.name,
                "image": spec.get("image", ""),
                "image_id": c.image_id,
                "state": c.state,
                "health": c.health or "",
                "started_at": c.started_at,
                "uptime": _uptime(c.started_at, c.state),
            }
        )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table()
    for column in ("node", "service", "container", "image", "health", "uptime"):
        table.add_column(column)
    for r in rows:
        health = r["health"] or r["state"]
        colour = "green" if health == "healthy" else "yellow" if health == "starting" else "red"
        table.add_row(
            r["node"],
            r["service"],
            r["container"],
            f"{r['image']} ({r['image_id'][7:19]})",
            f"[{colour}]{health}[/]",
            r["uptime"],
        )
    out.print(table)


def logs(
    service: str = typer.Argument(..., help="A service or container name."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: str = typer.Option("all", "--tail", help="Lines to show from the end."),
) -> None:
    """Print a service's container logs."""
    engine = Engine.connect()
    containers = _managed(engine, service)
    if follow:
        if len(containers) != 1:
            raise BadInput(f"--follow needs one container; {service} has {len(containers)}")
        for chunk in engine.follow_logs(containers[0].name, tail=tail):
            out.out(chunk, end="")
        return
    for c in containers:
        if len(containers) > 1:
            out.rule(c.name)
        out.out(engine.logs(c.name, tail=tail), end="")


def stop(
    service: str | None = typer.Argument(None, help="A service or container (default: all)."),
) -> None:
    """Stop containers (they stay, with their volumes; `colla deploy` starts them again)."""
    engine = Engine.connect()
    for c in _managed(engine, service):
        if c.state == "running":
            engine.stop(c.name)
            out.print(f"stopped {c.name}")


def destroy(
    volumes: bool = typer.Option(False, "--volumes", help="Also remove the data volumes."),
    yes: bool = typer.Option(False, "--yes-i-really-mean-it", help="Do not ask."),
) -> None:
    """Remove every colla container (and, with --volumes, their data)."""
    engine = Engine.connect()
    containers = _managed(engine)
    doomed_volumes = engine.volumes(f"{LABEL_MANAGED}=true") if volumes else []
    what = f"{len(containers)} container(s)" + (
        f" and {len(doomed_volumes)} volume(s) with their data" if volumes else " (volumes kept)"
    )
    if not yes and not typer.confirm(f"remove {what}?", default=False):
        raise CollaError("destroy: not confirmed; nothing removed")
    for c in containers:
        engine.remove_container(c.name)
        out.print(f"removed {c.name}")
    for volume in doomed_volumes:
        engine.remove_volume(volume)
        out.print(f"removed volume {volume}")


def check(config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY) -> None:
    """Talk to the real APIs: token, catalog, image round trip, placement, compute
    services and hypervisors, network agents, and the dashboard's login page."""
    project, catalog = deployment.load(config_dir, inventory)
    topo = topology(project)
    dashboard = f"http://{topo.internal_address}:80"
    probes = run_checks(admin_auth(project, topo), enabled_services(project, catalog), dashboard)
    for probe in probes:
        mark = "[green]ok[/]  " if probe.ok else "[red]FAIL[/]"
        out.print(f"{mark} {probe.name:<22} {escape(probe.detail)} ({probe.seconds:.1f} s)")
    failed = [p.name for p in probes if not p.ok]
    if failed:
        raise CollaError(f"check failed: {', '.join(failed)}")


def audit(
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per container: what it is granted beyond Docker's defaults, why, and whether the
    running container has exactly that."""
    engine = Engine.connect()
    wanted = deployment.desired(config_dir, engine, inventory)
    engines = deployment.engines_for(wanted.project, engine)
    running = {
        (node, spec.name): engines[node].grants(spec.name)
        for node, specs in wanted.nodes.items()
        for spec in specs.containers
    }
    rows = audit_rows(wanted.nodes, running)
    if as_json:
        out.print_json(json.dumps([vars(r) for r in rows]))
    else:
        table = Table(show_lines=True)
        for column in ("container", "granted beyond Docker's defaults", "why", "running"):
            table.add_column(column)
        for r in rows:
            colour = "green" if r.ok else "red"
            table.add_row(
                f"{r.node}/{r.container}",
                "\n".join(r.granted),
                escape(r.reason),
                f"[{colour}]{escape(r.running)}[/]",
            )
        out.print(table)
    differ = [f"{r.node}/{r.container}" for r in rows if not r.ok]
    if differ:
        raise CollaError(
            f"audit: {len(differ)} container(s) differ from the catalog: {', '.join(differ)}"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(status)
    app.command()(logs)
    app.command()(stop)
    app.command()(destroy)
    app.command()(check)
    app.command()(audit)
