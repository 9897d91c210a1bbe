"""``colla compose`` and ``colla k8s``: the deployment as files for other tools."""

from __future__ import annotations

from pathlib import Path

import typer

from colla.cli.console import out
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy import deployment
from colla.engine import DockerEngine
from colla.export.compose import compose_tree
from colla.export.k8s import k8s_tree, manifests
from colla.export.output import check_output_dir, write_tree
from colla.site import load_site

OUTPUT = typer.Option(
    ...,
    "--output",
    "-o",
    help="Directory to write: new, empty, or one colla wrote before (then replaced).",
)


def compose(
    output: Path = OUTPUT,
    node: str | None = typer.Option(None, "--node", help="Only this node's file."),
    data_containers: bool = typer.Option(
        False, "--data-containers", help="A data container per node instead of named volumes."
    ),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Write one docker-compose.yml per node, with the config directories it mounts."""
    check_output_dir(output)
    site = load_site(config_dir, inventory)
    wanted = deployment.desired_here(site, DockerEngine.connect(), deployment.DesiredOptions())
    tree = compose_tree(wanted.nodes, wanted.catalog, node, data_containers)
    # Rendered config holds secrets: the tree is private to its owner and group.
    write_tree(output, tree, "colla compose", dir_mode=0o750)
    for path in sorted(p for p in tree if p.endswith("docker-compose.yml")):
        out.print(f"wrote {output / path}")


def k8s(
    output: Path = OUTPUT, config_dir: Path = CONFIG_DIR, inventory: Path | None = INVENTORY
) -> None:
    """Write Kubernetes manifests (with a kustomization.yaml) for the deployment."""
    check_output_dir(output)
    site = load_site(config_dir, inventory)
    wanted = deployment.desired_here(site, DockerEngine.connect(), deployment.DesiredOptions())
    secrets = list(wanted.project.passwords.values.values())
    tree = k8s_tree(manifests(wanted.nodes, wanted.catalog, wanted.topology, secrets))
    write_tree(output, tree, "colla k8s", dir_mode=0o750)
    out.print(f"wrote {len(tree) - 1} manifests and {output / 'kustomization.yaml'}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(compose)
    app.command()(k8s)
