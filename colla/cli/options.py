"""Options shared by the deployment commands."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from colla.project import DEFAULT_CONFIG_DIR

CONFIG_DIR = typer.Option(
    Path(os.environ.get("COLLA_CONFIG_DIR", str(DEFAULT_CONFIG_DIR))),
    "--config-dir",
    "-c",
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
