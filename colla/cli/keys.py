"""``colla rotate-keys``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy.rotation import rotate_keys
from colla.session import session


def rotate_keys_command(
    service: str | None = typer.Argument(None, help="One service (default: every one)."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Rotate the services' keys (Keystone's fernet and credential keys): a new staged
    key is made and the staged one promoted, so that no token or credential fails."""
    started = time.monotonic()

    def say(text: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f}s] {escape(text)}")

    with session(config_dir, say, inventory) as current:
        done = rotate_keys(current.site, current.engines, current.history, say, service)
    out.print(f"rotated: {', '.join(done)} in {time.monotonic() - started:.1f} s")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("rotate-keys")(rotate_keys_command)
