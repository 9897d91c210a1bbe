"""``colla rotate-password``: a password changed under a running cloud, no request lost.

MariaDB, Keystone and RabbitMQ each check one password per account, so a change made in
one step fails every connection or sign-in made with the old password before the
services have the new one. A rotation therefore goes in three steps:

1. admit: the new credential works beside the old one. A database user accepts either
   password (MariaDB tries an account's alternatives in order); a Keystone service user
   gets its twin account (colla.config.accounts), with the new password and its roles;
   the message bus gets its twin by a reload of the broker's definitions (RELOAD).
2. roll: passwords.yml (and accounts.yml) take the new values, and every service whose
   containers change runs its own bootstrap steps again, then is swapped as an upgrade
   swaps it: behind HAProxy the new containers start beside the old ones before traffic
   moves (colla.deploy.rotation_apply).
3. retire: the old password stops working; the old account is deleted.

The rotation is written to ``rotating.yml`` (mode 0600, in the config directory) before
the first change and removed after the last. Every step can run again, so a rotation
that was interrupted is finished by running the same command again.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2
import yaml

from colla.config.accounts import ACCOUNTS_FILE, other_account, write_accounts
from colla.config.passwords import (
    Passwords,
    check_password,
    new_password,
    set_password,
    write_private_file,
)
from colla.deploy.deployment import render
from colla.deploy.infra import account_task, password_task
from colla.deploy.plan import Observed, reloadable
from colla.errors import BadInput
from colla.history.pins import history_options
from colla.history.store import History
from colla.model.specs import ContainerSpec, NodeSpecs, TaskSpec
from colla.site import Site
from colla.upgrade.operations import overlaps
from colla.yamlfile import load_yaml_mapping

Say = Callable[[str], None]

JOURNAL_FILE = "rotating.yml"
DATABASE = "database"
IDENTITY = "identity"
MESSAGING = "messaging"
KINDS = (DATABASE, IDENTITY, MESSAGING)
# How a rotation restarts a service's changed containers: behind HAProxy, new beside
# old; else stop, then start; or in place, when only files it reloads changed.
OVERLAP, STOP_FIRST, RELOAD = "overlap", "stop-first", "reload"


@dataclass(frozen=True)
class Rotation:
    """One password's rotation: what changes, from what to what."""

    key: str
    kind: str  # one of KINDS
    old: str = field(repr=False)
    new: str = field(repr=False)
    users: tuple[str, ...] = ()  # DATABASE: the users with this password
    service: str = ""  # IDENTITY, MESSAGING: the service whose account it is
    old_account: str = ""
    new_account: str = ""


def rotatable(site: Site) -> dict[str, str]:
    """The password keys colla rotates without downtime → their kind."""
    enabled = set(site.enabled)
    found = {}
    for name in enabled:
        service = site.catalog[name]
        for db in service.databases:
            found[db.password] = DATABASE
        if service.keystone is not None:
            found[service.keystone.password] = IDENTITY
        if service.account is not None:
            found[service.account.password] = MESSAGING
    return found


def _owner(site: Site, key: str, kind: str) -> tuple[str, str]:
    """The service whose account has password ``key``, and the account's user."""
    for name in sorted(site.enabled):
        service = site.catalog[name]
        if kind == IDENTITY and service.keystone and service.keystone.password == key:
            return name, service.keystone.user
        if kind == MESSAGING and service.account and service.account.password == key:
            return name, service.account.user
    raise AssertionError(f"no enabled service has the account of {key}")


def plan_rotation(site: Site, key: str, new: str | None = None) -> Rotation:
    """The rotation of ``key`` to ``new`` (default: a new random password)."""
    kinds = rotatable(site)
    if key not in kinds:
        raise BadInput(
            f"rotate-password: {key!r} is not a password colla rotates without downtime"
            f" (those it does: {', '.join(sorted(kinds))}); change it in passwords.yml and"
            " run `colla deploy`, which restarts what uses it"
        )
    old = site.project.passwords[key]
    value = new_password() if new is None else new
    path = site.config_dir / "passwords.yml"
    check_password(path, key, value)
    if key in site.catalog.ascii_passwords(set(site.enabled)) and not value.isascii():
        raise BadInput(f"rotate-password: {key!r} is a database password and must be ASCII")
    if value == old:
        raise BadInput(f"rotate-password: the new value of {key!r} is the one in use")
    if kinds[key] == DATABASE:
        users = tuple(site.catalog.database_users(set(site.enabled), key))
        return Rotation(key, DATABASE, old, value, users=users)
    service, user = _owner(site, key, kinds[key])
    current = site.project.account(user, key)
    return Rotation(
        key,
        kinds[key],
        old,
        value,
        service=service,
        old_account=current,
        new_account=other_account(user, current),
    )


def _with(site: Site, rotation: Rotation, password: str, account: str) -> Site:
    project = site.project
    passwords = Passwords({**project.passwords.values, rotation.key: password})
    accounts = dict(project.accounts)
    if rotation.kind != DATABASE:
        accounts[rotation.key] = account
    return Site(replace(project, passwords=passwords, accounts=accounts), site.catalog)


def rotated(site: Site, rotation: Rotation) -> Site:
    """The site as it is once ``rotation``'s new values are in place."""
    return _with(site, rotation, rotation.new, rotation.new_account)


def admit_task(site: Site, rotation: Rotation, tag: str | None) -> TaskSpec | None:
    """Step 1: the new credential, working beside the old one (``tag``: the image tag
    the rotated service runs, for a Keystone account). None for the message bus's
    account: the broker takes it by the reload of its definitions (RELOAD)."""
    p, c, t = site.project, site.catalog, site.topology
    if rotation.kind == DATABASE:
        return password_task(p, c, t, list(rotation.users), rotation.new, rotation.old)
    if rotation.kind == MESSAGING:
        return None
    return account_task(p, c, t, rotation.service, tag, (rotation.new_account, rotation.new))


def retire_task(site: Site, rotation: Rotation, tag: str | None) -> TaskSpec | None:
    """Step 3: the old credential no longer works (None: see ``retire_command``)."""
    p, c, t = site.project, site.catalog, site.topology
    if rotation.kind == DATABASE:
        return password_task(p, c, t, list(rotation.users), rotation.new)
    if rotation.kind == MESSAGING:
        return None
    return account_task(p, c, t, rotation.service, tag, retire=(rotation.old_account,))


def retire_command(site: Site, rotation: Rotation) -> tuple[str, str, list[str]] | None:
    """Step 3 for a shared account: (node, container, argv) that deletes the old one
    in the service's running container, on its first host."""
    if rotation.kind != MESSAGING:
        return None
    service = site.catalog[rotation.service]
    if service.account is None:
        return None
    node = service.first_host(site.project.inventory).name
    command = jinja2.Template(service.account.delete).render(user=rotation.old_account)
    return node, service.containers[0].name, shlex.split(command)


def changed_services(
    site: Site, before: Mapping[str, NodeSpecs], after: Mapping[str, NodeSpecs]
) -> list[tuple[str, list[str]]]:
    """The services whose containers differ between two renderings (with the same
    options) → those containers (``node/name``), in dependency order."""
    old = {(s.node, s.name): s.spec_hash for n in before.values() for s in n.containers}
    changed: dict[str, list[str]] = {}
    for node in after.values():
        for spec in node.containers:
            if old.get((spec.node, spec.name)) != spec.spec_hash:
                changed.setdefault(spec.service, []).append(f"{spec.node}/{spec.name}")
    return [
        (name, sorted(changed[name]))
        for level in site.catalog.levels(set(changed))
        for name in sorted(level)
    ]


def commit(site: Site, rotation: Rotation) -> None:
    """Step 2's files: passwords.yml and accounts.yml with the new values."""
    set_password(site.config_dir / "passwords.yml", rotation.key, rotation.new)
    if rotation.kind != DATABASE:
        accounts = {**site.project.accounts, rotation.key: rotation.new_account}
        write_accounts(site.config_dir / ACCOUNTS_FILE, accounts)


def write_journal(config_dir: Path, rotation: Rotation) -> None:
    """Record ``rotation`` before its first change (it holds both passwords: 0600)."""
    data = {
        "key": rotation.key,
        "kind": rotation.kind,
        "old": rotation.old,
        "new": rotation.new,
        "users": list(rotation.users),
        "service": rotation.service,
        "old_account": rotation.old_account,
        "new_account": rotation.new_account,
    }
    write_private_file(config_dir / JOURNAL_FILE, yaml.safe_dump(data, sort_keys=True))


def read_journal(config_dir: Path) -> Rotation | None:
    """The rotation an interrupted command left (None: none)."""
    path = config_dir / JOURNAL_FILE
    if not path.exists():
        return None
    raw = load_yaml_mapping(path)
    text = ("key", "kind", "old", "new", "service", "old_account", "new_account")
    for name in text:
        if not isinstance(raw.get(name, ""), str):
            raise BadInput(f"{path}: key {name!r}: expected a string")
    users = raw.get("users", [])
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise BadInput(f"{path}: key 'users': expected a list of names")
    if raw.get("kind") not in KINDS or not raw.get("key") or not raw.get("new"):
        raise BadInput(
            f"{path}: not a rotation colla wrote (remove it if no rotation is under way)"
        )
    return Rotation(
        key=raw["key"],
        kind=raw["kind"],
        old=raw.get("old", ""),
        new=raw["new"],
        users=tuple(users),
        service=raw.get("service", ""),
        old_account=raw.get("old_account", ""),
        new_account=raw.get("new_account", ""),
    )


def refuse_unfinished(config_dir: Path, key: str | None = None) -> Rotation | None:
    """The interrupted rotation of ``key``, if any; BadInput when another key's (or,
    without ``key``, any) is unfinished: it is to be finished before anything else."""
    rotation = read_journal(config_dir)
    if rotation is not None and rotation.key != key:
        raise BadInput(
            f"the rotation of {rotation.key} was interrupted ({config_dir / JOURNAL_FILE}):"
            f" finish it first with `colla rotate-password {rotation.key}`"
        )
    return rotation


def clear_journal(config_dir: Path) -> None:
    """The rotation is over."""
    (config_dir / JOURNAL_FILE).unlink(missing_ok=True)


def unrotated(site: Site, rotation: Rotation) -> Site:
    """The site as it was before ``rotation`` (an interrupted one may have written its
    new values already)."""
    return _with(site, rotation, rotation.old, rotation.old_account)


@dataclass(frozen=True)
class RotationPlan:
    """A rotation and the services whose containers it changes, each with those
    containers (``node/name``) and how they take it (OVERLAP, STOP_FIRST, RELOAD)."""

    rotation: Rotation
    services: tuple[tuple[str, tuple[str, ...], str], ...]


def _how(site: Site, name: str, old: list[ContainerSpec], new: list[ContainerSpec]) -> str:
    """How service ``name``'s changed containers take the change."""
    running = {(s.node, s.name): s for s in old}
    if all(
        (s.node, s.name) in running
        and reloadable(s, Observed(s.name, s.node, "running", running[(s.node, s.name)].labels()))
        for s in new
    ):
        return RELOAD
    return OVERLAP if overlaps(site, name) else STOP_FIRST


def rotation_plan(site: Site, history: History, rotation: Rotation) -> RotationPlan:
    """What ``rotation`` restarts or reloads: the containers whose rendering the new
    value changes, at the images and slots they run. No node is reached."""
    options = history_options(history, site.project.globals.image_tag)
    before = render(unrotated(site, rotation), options)
    after = render(rotated(site, rotation), options)
    old = [s for n in before.values() for s in n.containers]
    rendered = {f"{s.node}/{s.name}": s for n in after.values() for s in n.containers}
    services = []
    for name, containers in changed_services(site, before, after):
        new = [rendered[c] for c in containers]
        services.append((name, tuple(containers), _how(site, name, old, new)))
    return RotationPlan(rotation, tuple(services))
