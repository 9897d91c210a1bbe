"""The operator's project: a config directory, validated once into a frozen value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from colla.certs import TlsMaterial, load_tls
from colla.config.accounts import ACCOUNTS_FILE, load_accounts
from colla.config.globals import Globals, load_globals
from colla.config.inventory import Inventory, all_in_one, load_inventory
from colla.config.passwords import Passwords, load_passwords
from colla.deploy.overrides import INI_SUFFIXES, OVERRIDE_DIR, check_overrides
from colla.errors import BadInput
from colla.model.services import ServiceCatalog
from colla.textfile import read_text

DEFAULT_CONFIG_DIR = Path("/etc/colla")
INVENTORY_NAMES = ("inventory", "inventory.yml", "inventory.yaml", "multinode", "all-in-one")


@dataclass(frozen=True)
class Project:
    """Everything the operator said: globals, passwords, inventory, config overrides."""

    config_dir: Path
    globals: Globals
    passwords: Passwords
    inventory: Inventory
    inventory_path: Path | None
    # Each override file under config/ → its text; which file reaches which rendered
    # file is colla.deploy.overrides' business.
    overrides: Mapping[Path, str]
    # The CA and HAProxy's certificates, read and checked once when TLS is on.
    tls: TlsMaterial | None = None
    # Password key → the Keystone account its service signs in with, where a rotation
    # moved it to the ``-alt`` twin (colla.config.accounts).
    accounts: Mapping[str, str] = field(default_factory=dict)

    def account(self, user: str, key: str) -> str:
        """The Keystone account of the service user ``user`` (password ``key``)."""
        return self.accounts.get(key, user)


def absolute(path: Path) -> Path:
    """``path`` made absolute against the working directory, without resolving symlinks
    (an operator's /etc/colla may be one, and errors should name the path they gave)."""
    return Path(os.path.abspath(path))


def find_inventory(config_dir: Path, given: Path | None) -> Path | None:
    """The inventory file: the one given, else the first usual name in the config dir."""
    if given is not None:
        if not given.is_file():
            raise BadInput(f"{given}: no such inventory file")
        return given
    for name in INVENTORY_NAMES:
        if (config_dir / name).is_file():
            return config_dir / name
    return None


def _read_overrides(config_dir: Path) -> dict[Path, str]:
    """Every file under config/: an INI override, or an error naming it. Hidden files
    and editor backups (``~``) are not the operator's intent and are skipped."""
    root = config_dir / OVERRIDE_DIR
    found: dict[Path, str] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(p.startswith(".") for p in relative.parts) or path.name.endswith("~"):
            continue
        if path.is_dir():
            if path.suffix in INI_SUFFIXES:  # meant as an override, but cannot be one
                raise BadInput(f"{path}: is a directory, not a file")
            continue
        if not path.is_file():
            # A FIFO or device would block the read, or never end.
            raise BadInput(f"{path}: not a regular file")
        if path.suffix not in INI_SUFFIXES:
            raise BadInput(
                f"{path}: colla applies only INI overrides here ({', '.join(INI_SUFFIXES)}),"
                " merged section by key"
            )
        found[path] = read_text(path)
    return found


def load_project(
    config_dir: Path, catalog: ServiceCatalog, inventory: Path | None = None, tls: bool = True
) -> Project:
    """Load and validate the config directory against the service catalog.

    The project holds ``config_dir`` as an absolute path: it becomes the source of
    every container's config bind, and Docker reads a relative source (``mariadb``)
    as the name of a volume. ``tls``: read and check the TLS files when TLS is on
    (False only for `colla certs`, which makes them).
    """
    config_dir = absolute(config_dir)
    globals_path = config_dir / "globals.yml"
    if not globals_path.is_file():
        raise BadInput(f"{globals_path}: no such file (run `colla init --config-dir {config_dir}`)")
    globals_ = load_globals(globals_path, catalog.defaults(), catalog.parts())
    enabled = {name for name, on in globals_.enabled.items() if on}
    inventory_path = find_inventory(config_dir, inventory)
    inv = load_inventory(inventory_path) if inventory_path else all_in_one()
    passwords = load_passwords(
        config_dir / "passwords.yml",
        catalog.required_passwords(enabled),
        catalog.ascii_passwords(enabled),
    )
    project = Project(
        config_dir=config_dir,
        globals=globals_,
        passwords=passwords,
        inventory=inv,
        inventory_path=inventory_path,
        overrides=_read_overrides(config_dir),
        accounts=load_accounts(config_dir / ACCOUNTS_FILE, catalog.account_users()),
    )
    check_overrides(project, catalog)
    backends = (("rabbitmq_enable_tls", "RabbitMQ"), ("database_enable_tls_backend", "MariaDB"))
    for key, what in backends:
        if getattr(globals_, key) and not globals_.kolla_enable_tls_internal:
            raise BadInput(
                f"{globals_path}: {key}: {what} uses the internal certificate and the "
                "services the CA copied with it; set kolla_enable_tls_internal: true"
            )
    if globals_.tls:
        if "haproxy" not in enabled:
            raise BadInput(
                f"{globals_path}: kolla_enable_tls_internal/external: HAProxy terminates "
                "TLS; set enable_haproxy: true"
            )
        if tls:
            project = replace(project, tls=load_tls(config_dir, globals_))
    return project
