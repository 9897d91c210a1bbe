"""Host names and addresses from the inventory, checked as what they are.

A node's name becomes a directory name (``colla compose``'s ``<node>/``), a label and
part of rendered files; its address is written into shell commands, RabbitMQ's
environment file and URLs. Both are checked when the inventory is loaded, so nothing
else has to wonder what they hold.
"""

from __future__ import annotations

import ipaddress
import re

from colla.errors import BadInput

# RFC 1123: labels of letters, digits and inner hyphens, 1-63 characters, 253 in all.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MAX_NAME = 253


def is_host_name(text: str) -> bool:
    """Whether ``text`` is an RFC 1123 host name (one trailing dot allowed)."""
    name = text[:-1] if text.endswith(".") else text
    return 0 < len(name) <= _MAX_NAME and all(_LABEL.fullmatch(p) for p in name.split("."))


def check_host_name(name: str, where: str) -> None:
    """An inventory host's name: an RFC 1123 host name, so also a safe file name (no
    ``/``, never ``.`` or ``..``)."""
    if not is_host_name(name) or name.endswith("."):
        raise BadInput(
            f"{where}: host name {name!r} is not a valid host name (letters, digits and "
            "inner hyphens, in dot-separated labels of at most 63 characters)"
        )


def check_address(value: str, where: str, key: str = "ansible_host") -> None:
    """An address a host is reached at: an IPv4 or IPv6 address, or a host name."""
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    if not is_host_name(value):
        raise BadInput(f"{where}: {key}: expected an IP address or a host name, got {value!r}")
