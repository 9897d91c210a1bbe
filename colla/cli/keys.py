"""``colla rotate-keys`` and ``colla certs``: the cloud's keys and certificates."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from colla.authority import ensure_certificates
from colla.certs import check_certificates, expiring
from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy.rotation import rotate_keys
from colla.lock import locked
from colla.session import session
from colla.site import load_site


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


def certs(
    check: bool = typer.Option(False, "--check", help="Only check and print them."),
    renew: bool = typer.Option(False, "--renew", help="Renew the certificates colla made."),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Make a CA and HAProxy's certificates where the operator brought none (keys 0600),
    or with --check print each one's subject, names and expiry."""
    site = load_site(config_dir, inventory, tls=False)
    if not check:
        with locked(config_dir):
            for line in ensure_certificates(site, renew):
                out.print(escape(line))
    infos = check_certificates(site)
    for info in infos:
        mark = "colla's CA" if info.by_colla else "not signed by colla's CA"
        out.print(
            f"{escape(str(info.path))}: {escape(info.subject)}; "
            f"names {escape(', '.join(info.names) or '-')}; "
            f"expires {info.not_after:%Y-%m-%d} ({mark})"
        )
    for line in expiring(infos):
        err.print(f"[yellow]warning:[/] {escape(line)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("rotate-keys")(rotate_keys_command)
    app.command()(certs)
