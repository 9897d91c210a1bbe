"""``colla status``, ``logs``, ``stop``, ``destroy`` and ``check``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from colla.catalog import load_services
from colla.certs import check_certificates, expiring
from colla.cli.console import out
from colla.cli.options import CONFIG_DIR, INVENTORY, LIMIT
from colla.deploy import deployment
from colla.deploy.check import run_checks
from colla.deploy.credentials import admin_auth
from colla.deploy.nodes import parse_limit
from colla.deploy.stopping import stop_in_order
from colla.deploy.templates import base_url
from colla.engine import ContainerInfo, DockerEngine, Engine
from colla.errors import BadInput, CollaError
from colla.lock import locked
from colla.model.specs import LABEL_MANAGED, LABEL_NODE, LABEL_SERVICE, LABEL_SPEC
from colla.site import Site, load_site


def _site(config_dir: Path, inventory: Path | None) -> Site | None:
    """The command's one load; None when there is no config yet (a bare engine)."""
    if not (config_dir / "globals.yml").is_file() and inventory is None:
        return None
    return load_site(config_dir, inventory)


def _engines(site: Site | None, config_dir: Path, limit: str | None) -> list[Engine]:
    """Every node's engine once (this machine's alone when there is no config yet)."""
    if site is None:
        if limit is not None:
            raise BadInput(f"--limit needs a config directory: {config_dir} has no globals.yml")
        return [DockerEngine.connect()]
    project = site.project
    engines = deployment.engines_for(project, DockerEngine.connect(), parse_limit(limit, project))
    unique = {id(e): e for e in engines.values()}
    return list(unique.values())


def _reached(config_dir: Path, inventory: Path | None, limit: str | None) -> list[Engine]:
    return _engines(_site(config_dir, inventory), config_dir, limit)


def _managed(
    engines: list[Engine], service: str | None = None
) -> list[tuple[Engine, ContainerInfo]]:
    found = sorted(
        ((e, c) for e in engines for c in e.containers(f"{LABEL_MANAGED}=true")),
        key=lambda pair: (pair[1].labels.get(LABEL_NODE, ""), pair[1].name),
    )
    if service is None:
        return found
    chosen = [(e, c) for e, c in found if service in (c.labels.get(LABEL_SERVICE), c.name)]
    if not chosen:
        known = sorted(
            {c.labels.get(LABEL_SERVICE, "") for _, c in found} | {c.name for _, c in found}
        )
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


def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    limit: str | None = LIMIT,
) -> None:
    """A table of colla's containers on every node: node, service, image, health, uptime."""
    rows = []
    for _, c in _managed(_reached(config_dir, inventory, limit)):
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


def parse_tail(text: str) -> int | str:
    """``--tail``: a number of lines or ``all``. Docker's client quietly reads the whole
    log for anything else (a digit string included), so it gets an int."""
    if text == "all":
        return text
    if not text.isdigit():
        raise BadInput(f"--tail {text!r}: expected a number of lines or 'all'")
    return int(text)


def logs(
    service: str = typer.Argument(..., help="A service or container name."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: str = typer.Option(
        "200", "--tail", help="Lines to show from the end, or 'all' (the whole log)."
    ),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    limit: str | None = LIMIT,
) -> None:
    """Print a service's container logs (on every node that runs it)."""
    lines = parse_tail(tail)
    containers = _managed(_reached(config_dir, inventory, limit), service)
    if follow:
        if len(containers) != 1:
            raise BadInput(
                f"--follow needs one container; {service} has {len(containers)} (see --limit)"
            )
        engine, only = containers[0]
        for chunk in engine.follow_logs(only.name, tail=lines):
            out.out(chunk, end="")
        return
    for engine, c in containers:
        if len(containers) > 1:
            out.rule(f"{c.labels.get(LABEL_NODE, '')}/{c.name}")
        out.out(engine.logs(c.name, tail=lines), end="")


def stop(
    service: str | None = typer.Argument(None, help="A service or container (default: all)."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    limit: str | None = LIMIT,
) -> None:
    """Stop containers (they stay, with their volumes; `colla deploy` starts them again)."""
    with locked(config_dir):
        site = _site(config_dir, inventory)
        found = _managed(_engines(site, config_dir, limit), service)
        catalog = site.catalog if site is not None else load_services()
        for name in stop_in_order(found, catalog, lambda engine, c: engine.stop(c.name)):
            out.print(f"stopped {name}")


def destroy(
    volumes: bool = typer.Option(False, "--volumes", help="Also remove the data volumes."),
    yes: bool = typer.Option(False, "--yes-i-really-mean-it", help="Do not ask."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    limit: str | None = LIMIT,
) -> None:
    """Remove every colla container on every node (and, with --volumes, this cloud's
    data volumes: those its config directory names, never another cloud's)."""
    with locked(config_dir):
        site = _site(config_dir, inventory)
        # Refused before any engine is reached.
        ours = _own_volumes(site, config_dir) if volumes else None
        _remove_all(_engines(site, config_dir, limit), ours, yes)


def _own_volumes(site: Site | None, config_dir: Path) -> set[str]:
    """The names of the volumes this config directory's cloud uses: the catalog's volumes
    under its ``colla_volume_prefix``. Other clouds on the same engine (another prefix)
    keep theirs."""
    if site is None:
        raise BadInput(
            f"destroy --volumes: {config_dir} has no globals.yml, so which volumes are this "
            "cloud's is unknown; nothing removed"
        )
    prefix = site.project.globals.colla_volume_prefix
    return {prefix + name for name in site.catalog.volume_names()}


def _remove_all(engines: list[Engine], ours: set[str] | None, yes: bool) -> None:
    """Remove colla's containers and, when ``ours`` names them, those volumes."""
    containers = _managed(engines)
    volumes = ours is not None
    doomed_volumes = [
        (e, v) for e in engines for v in e.volumes(f"{LABEL_MANAGED}=true") if v in (ours or ())
    ]
    what = f"{len(containers)} container(s)" + (
        f" and {len(doomed_volumes)} volume(s) with their data" if volumes else " (volumes kept)"
    )
    if not yes and not typer.confirm(f"remove {what}?", default=False):
        raise CollaError("destroy: not confirmed; nothing removed")
    for engine, c in containers:
        engine.remove_container(c.name)
        out.print(f"removed {c.labels.get(LABEL_NODE, '')}/{c.name}")
    for engine, volume in doomed_volumes:
        engine.remove_volume(volume)
        out.print(f"removed volume {volume}" + (f" on {engine.url}" if engine.remote else ""))


def check(config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY) -> None:
    """Talk to the real APIs: token, catalog, image round trip, placement, compute
    services and hypervisors, network agents, and the dashboard's login page."""
    site = load_site(config_dir, inventory)
    services = [site.catalog[name] for name in sorted(site.enabled)]
    auth = admin_auth(site.project, site.catalog, site.topology)
    tls = site.project.globals.kolla_enable_tls_internal
    probes = run_checks(
        auth,
        services,
        lambda service: base_url(site.project, site.topology, service.front_port(tls)),
    )
    for probe in probes:
        mark = "[green]ok[/]  " if probe.ok else "[red]FAIL[/]"
        out.print(f"{mark} {probe.name:<22} {escape(probe.detail)} ({probe.seconds:.1f} s)")
    # Certificates near their expiry warn; a bad one (key, signer, expired) fails.
    for line in expiring(check_certificates(site)):
        out.print(f"[yellow]warn[/] {'certificates':<22} {escape(line)}")
    failed = [p.name for p in probes if not p.ok]
    if failed:
        raise CollaError(f"check failed: {', '.join(failed)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(status)
    app.command()(logs)
    app.command()(stop)
    app.command()(destroy)
    app.command()(check)
