"""Which account each service signs in with, to Keystone and to the message bus.

Keystone and RabbitMQ keep one password per user (Keystone also revokes the user's
tokens when it changes), so such a password cannot change under the running services
without failed requests. `colla rotate-password` therefore alternates between two
accounts: the user (``nova``, ``openstack``) and a twin (``nova-alt``): the twin gets
the new password while the old account still works, the containers move over, and the
old account goes.

``accounts.yml`` in the config directory says which of the two is in use: password key
→ account name. colla writes it; a key absent from it uses its user.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from colla.config.passwords import write_private_file
from colla.errors import BadInput
from colla.yamlfile import load_yaml_mapping

ACCOUNTS_FILE = "accounts.yml"
ALT_SUFFIX = "-alt"
_HEADER = (
    "# colla: the account each service signs in with, by its password key.\n"
    "# Written by `colla rotate-password`, which alternates USER and USER-alt; do not edit.\n"
)


def other_account(user: str, current: str) -> str:
    """The account a rotation moves ``user``'s service to from ``current``."""
    return user + ALT_SUFFIX if current == user else user


def load_accounts(path: Path, users: Mapping[str, str]) -> dict[str, str]:
    """Read ``path`` (absent: every service on its user) against ``users``, the
    catalog's service password keys → user names."""
    if not path.exists():
        return {}
    raw = load_yaml_mapping(path)
    found = {}
    for key, value in raw.items():
        if key not in users:
            raise BadInput(f"{path}: key {key!r}: not the password of an account colla rotates")
        user = users[key]
        if value not in (user, user + ALT_SUFFIX):
            raise BadInput(
                f"{path}: key {key!r}: expected {user!r} or {user + ALT_SUFFIX!r} (got {value!r})"
            )
        found[str(key)] = str(value)
    return found


def write_accounts(path: Path, accounts: Mapping[str, str]) -> None:
    """Replace ``path`` atomically; mode 0600 like the passwords beside it."""
    body = yaml.safe_dump(dict(sorted(accounts.items())), default_flow_style=False)
    write_private_file(path, _HEADER + (body if accounts else ""))
