"""``colla lab up|down``, ``colla registry up|down`` and ``colla images send``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy import deployment, nodes
from colla.deploy.desired import desired_state, image_refs
from colla.engine import DockerEngine
from colla.errors import BadInput
from colla.images.send import send_images
from colla.lab.files import held
from colla.lab.lab import Lab, default_state_root
from colla.lab.registry import DEFAULT_IMAGE as REGISTRY_IMAGE
from colla.lab.registry import registry_down, registry_up
from colla.lab.settings import DEFAULT_IMAGE, DEFAULT_NAME, DEFAULT_SUBNET, lab_settings
from colla.lock import locked
from colla.site import load_site

lab_app = typer.Typer(help="A multi-node lab on this machine (nodes are containers).")
registry_app = typer.Typer(help="An image registry on this machine for the lab's nodes.")

NAME = typer.Option(DEFAULT_NAME, "--name", help="The lab's name (labels, network, nodes).")
SUBNET = typer.Option(DEFAULT_SUBNET, "--subnet", help="The lab network's IPv4 subnet.")
STATE_DIR = typer.Option(
    None, "--state-dir", help="Keys, inventory and config (default: <state root>/<name>)."
)


@lab_app.command("up")
def lab_up(
    nodes_: int = typer.Option(3, "--nodes", "-n", help="How many nodes (1-9)."),
    name: str = NAME,
    subnet: str = SUBNET,
    image: str = typer.Option(DEFAULT_IMAGE, "--image", help="The node image."),
    state_dir: Path | None = STATE_DIR,
) -> None:
    """Create (or keep) N nodes, each with its own dockerd and sshd; write their config."""
    settings = lab_settings(
        name=name,
        nodes=nodes_,
        subnet=subnet,
        image=image,
        state_dir=state_dir or default_state_root() / name,
    )
    with held(settings.state_dir):
        state = Lab(DockerEngine.connect(), settings).up()
    table = Table(title=f"lab {settings.name}")
    for column in ("node", "address", "groups", "action"):
        table.add_column(column)
    for node in state.nodes:
        groups = "control, network" if node.name == "node1" else "compute"
        table.add_row(node.name, node.address, groups, node.action)
    out.print(table)
    out.print(f"config: {state.config_dir} (use -c {state.config_dir}); {state.seconds:.1f} s")


@lab_app.command("down")
def lab_down(name: str = NAME, state_dir: Path | None = STATE_DIR) -> None:
    """Remove the lab's nodes, their volumes, its network and its state directory."""
    settings = lab_settings(name=name, state_dir=state_dir or default_state_root() / name)
    with held(settings.state_dir):
        removed = Lab(DockerEngine.connect(), settings).down()
    for item in removed:
        out.print(f"removed {escape(item)}")
    out.print(f"lab {settings.name}: " + ("down" if removed else "nothing to remove"))


@registry_app.command("up")
def registry_up_command(
    name: str = NAME,
    subnet: str = SUBNET,
    image: str = typer.Option(REGISTRY_IMAGE, "--image", help="The registry image."),
) -> None:
    """Run the registry: push to 127.0.0.1:4000 here, nodes pull from the lab network."""
    settings = lab_settings(name=name, subnet=subnet, state_dir=default_state_root() / name)
    state = registry_up(DockerEngine.connect(), settings, image)
    out.print(
        f"registry {state.action}: push with `colla build --push {state.push_address}`; "
        f"lab nodes pull from {state.pull_address} (docker_registry in globals.yml)"
    )


@registry_app.command("down")
def registry_down_command(
    name: str = NAME,
    volume: bool = typer.Option(False, "--volume", help="Also remove the stored images."),
) -> None:
    """Remove the registry container (its images stay unless --volume)."""
    settings = lab_settings(name=name, state_dir=default_state_root() / name)
    removed = registry_down(DockerEngine.connect(), settings, volume)
    for item in removed:
        out.print(f"removed {escape(item)}")
    out.print("registry: " + ("down" if removed else "nothing to remove"))


def images_send(
    node: str = typer.Option(..., "--node", help="The inventory node to send images to."),
    refs: list[str] = typer.Argument(None, help="Images (default: what the node runs)."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Stream images from this engine to a node's engine (save here, load there)."""
    with locked(config_dir):
        _send(node, refs, config_dir, inventory)


def _send(node: str, refs: list[str], config_dir: Path, inventory: Path | None) -> None:
    site = load_site(config_dir, inventory)
    project = site.project
    limit = nodes.parse_limit(node, project, "--node")
    if not refs:
        wanted = desired_state(project, site.catalog, site.topology)
        refs = sorted(image_refs({node: wanted[node]}))
    if not refs:
        raise BadInput(f"node {node} runs no service: name the images to send")
    local = DockerEngine.connect()
    target = deployment.engines_for(project, local, limit)[node]
    if target is local:
        raise BadInput(f"node {node} is this machine: its images are here already")
    results = send_images(local, target, refs, lambda text: err.print(escape(text)))
    sent = [r for r in results if not r.skipped]
    total = sum(r.bytes for r in sent)
    seconds = sum(r.seconds for r in sent)
    out.print(
        f"{node}: sent {len(sent)} image(s), {total / 1e6:.0f} MB in {seconds:.1f} s; "
        f"{len(results) - len(sent)} already there"
    )


def register(app: typer.Typer) -> None:
    """Add this module's command groups to the app."""
    app.add_typer(lab_app, name="lab")
    app.add_typer(registry_app, name="registry")
