"""Options shared by the deployment commands."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from colla.config.names import tag_problem
from colla.errors import BadInput
from colla.project import DEFAULT_CONFIG_DIR, absolute
from colla.textfile import quote


def checked_tag(value: str | None) -> str | None:
    """A ``--tag`` option, refused at the edge when Docker could not use it as a tag."""
    problem = None if value is None else tag_problem(value)
    if problem:
        raise BadInput(f"--tag {quote(value)}: {problem}")
    return value


CONFIG_DIR = typer.Option(
    Path(os.environ.get("COLLA_CONFIG_DIR", str(DEFAULT_CONFIG_DIR))),
    "--config-dir",
    "-c",
    # Absolute from here on, for every command: a relative directory reached Docker as
    # a bind source, which it reads as a volume name, and every container was recreated.
    callback=absolute,
    help="The config directory (globals.yml, passwords.yml, inventory). Env: COLLA_CONFIG_DIR.",
)
INVENTORY = typer.Option(
    None,
    "--inventory",
    "-i",
    help="Inventory file (default: <config-dir>/inventory, else all-in-one).",
)
LIMIT = typer.Option(
    None,
    "--limit",
    "-l",
    help="Only these inventory nodes: NODE[,NODE...]. The others are not contacted.",
)
