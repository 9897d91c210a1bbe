"""``colla rotate-keys``, ``colla rotate-password`` and ``colla certs``: the cloud's keys,
secrets and certificates."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from colla.authority import ensure_certificates
from colla.certs import check_certificates, expiring
from colla.cli.console import err, out
from colla.cli.options import CONFIG_DIR, INVENTORY
from colla.deploy.password_rotation import (
    DATABASE,
    OVERLAP,
    RELOAD,
    RotationPlan,
    plan_rotation,
    refuse_unfinished,
    rotation_plan,
)
from colla.deploy.rotation import rotate_keys
from colla.deploy.rotation_apply import apply_rotation
from colla.lock import command_line, locked
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


def _print_rotation(plan: RotationPlan) -> None:
    rotation = plan.rotation
    if rotation.kind == DATABASE:
        what = f"database users {', '.join(rotation.users)}: old and new, then new only"
    else:
        what = f"{rotation.kind} account {rotation.old_account} → {rotation.new_account}"
    out.print(f"rotate {escape(rotation.key)}: {escape(what)}")
    for service, containers, how in plan.services:
        verb, way = (
            ("reload", "in place")
            if how == RELOAD
            else (
                "restart",
                "new beside old behind HAProxy" if how == OVERLAP else "stop, then start",
            )
        )
        out.print(f"  {verb} {escape(service)} ({way}): {escape(', '.join(containers))}")
    if not plan.services:
        out.print("  no container uses it")


def rotate_password_command(
    key: str = typer.Argument(..., help="A password key of passwords.yml."),
    plan_only: bool = typer.Option(
        False, "--plan", help="Print what it restarts or reloads; change nothing."
    ),
    config_dir: Path = CONFIG_DIR,
    inventory: Path | None = INVENTORY,
) -> None:
    """Give a database, service or message bus password a new random value with no
    failed request: the new one works beside the old, the services move over, the old
    one goes. An interrupted rotation is finished by running the command again."""
    started = time.monotonic()

    def say(text: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f}s] {escape(text)}")

    with session(config_dir, say, inventory) as current:
        rotation = refuse_unfinished(current.site.config_dir, key)
        if rotation is not None:
            say(f"finishing the interrupted rotation of {key}")
        plan = rotation_plan(
            current.site, current.history, rotation or plan_rotation(current.site, key)
        )
        _print_rotation(plan)
        if plan_only:
            return
        apply_rotation(current, plan, say, command_line())
    out.print(f"rotated {key} in {time.monotonic() - started:.1f} s")


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
    app.command("rotate-password")(rotate_password_command)
    app.command()(certs)
