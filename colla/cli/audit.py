"""``colla audit``: the thin part that reads the engines; the comparison is
:mod:`colla.deploy.audit`'s."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from colla.cli.console import out
from colla.cli.deploy import pinned
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy import deployment
from colla.deploy.audit import Inspected
from colla.deploy.audit import audit as audit_rows
from colla.engine import DockerEngine, Engine, Grants
from colla.errors import CollaError
from colla.model.specs import LABEL_MANAGED, LABEL_NODE, LABEL_SERVICE, LABEL_TASK, NodeSpecs
from colla.site import load_site


def inspect_nodes(nodes: dict[str, NodeSpecs], engines: dict[str, Engine]) -> Inspected:
    """Every colla container and task container of each node's engine, once per engine,
    sorted into the desired ones and the strays."""
    found: dict[tuple[str, str], tuple[str, Grants]] = {}
    defaults: dict[str, str] = {}
    asked: dict[int, str] = {}
    for node, engine in engines.items():
        if id(engine) in asked:
            defaults[node] = defaults[asked[id(engine)]]
            continue
        asked[id(engine)] = node
        defaults[node] = engine.cgroupns_default()
        for label in (f"{LABEL_MANAGED}=true", LABEL_TASK):
            for info, grants in engine.audited(label):
                owner = info.labels.get(LABEL_NODE, node)
                service = info.labels.get(LABEL_SERVICE, info.labels.get(LABEL_TASK, ""))
                found[(owner, info.name)] = (service, grants)
    desired: dict[tuple[str, str], Grants | None] = {}
    for node, specs in nodes.items():
        for spec in specs.containers:
            mine = found.pop((node, spec.name), None)
            # A container of that name that colla did not label is audited too: it is
            # what runs there.
            desired[(node, spec.name)] = mine[1] if mine else engines[node].grants(spec.name)
    strays = {key: value for key, value in found.items() if key[0] in nodes}
    return Inspected(desired, strays, defaults)


def audit(
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per container: what it is granted beyond Docker's defaults, why, whether the
    running container has exactly that, and which grants amount to root on the host;
    then every colla container the desired state does not name."""
    site = load_site(config_dir, inventory)
    wanted = deployment.desired(site, DockerEngine.connect(), pinned(site))
    rows = audit_rows(wanted.nodes, inspect_nodes(wanted.nodes, wanted.engines))
    if as_json:
        out.print_json(json.dumps([vars(r) for r in rows]))
    else:
        table = Table(show_lines=True)
        for column in ("container", "granted beyond Docker's defaults", "why", "running", "root"):
            table.add_column(column)
        for r in rows:
            colour = "green" if r.ok else "red"
            table.add_row(
                f"{r.node}/{r.container}",
                escape("\n".join(r.granted)),
                escape(r.reason),
                f"[{colour}]{escape(r.running)}[/]",
                f"[red]{escape(chr(10).join(r.root_on_host))}[/]" if r.root_on_host else "no",
            )
        out.print(table)
        root = [f"{r.node}/{r.container}" for r in rows if r.root_on_host]
        if root:
            out.print(
                f"{len(root)} container(s) hold grants that amount to root on their host: "
                f"{', '.join(root)}"
            )
    differ = [f"{r.node}/{r.container}" for r in rows if not r.ok]
    if differ:
        raise CollaError(
            f"audit: {len(differ)} container(s) differ from the catalog or are strays: "
            f"{', '.join(differ)}"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(audit)
