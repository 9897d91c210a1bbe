"""Names that reach the kernel or Docker: network interfaces and image tags.

Each check returns what is wrong (None if nothing), so that the caller can name its
own file, key or option in the error.
"""

from __future__ import annotations

import re
from typing import Annotated

import pydantic

# Linux's dev_valid_name(): IFNAMSIZ is 16 bytes with the terminating NUL.
_IFNAME_BYTES = 15
# Docker's reference grammar for a tag.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")


def interface_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Linux interface name, or None if it can."""
    if not name:
        return "an interface name cannot be empty"
    if name in (".", ".."):
        return f"{name!r} cannot be an interface name"
    bad = next((c for c in name if c in "/:" or c.isspace() or not c.isprintable()), None)
    if bad is not None:
        # The kernel refuses '/', ':' (the old alias syntax eth0:1 names an address, not
        # a device) and whitespace; a NUL or other control character would cut the name
        # short in the kernel or in the rendered config.
        return f"an interface name cannot contain {bad!r}"
    if len(name.encode()) > _IFNAME_BYTES:
        return f"an interface name has at most {_IFNAME_BYTES} bytes"
    return None


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot be a Docker image tag, or None if it can."""
    if _TAG.fullmatch(tag):
        return None
    if not tag:
        return "an image tag cannot be empty"
    return "an image tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"


def _valid_interface(value: str) -> str:
    problem = interface_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _valid_tag(value: str) -> str:
    problem = tag_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# Field types for pydantic models: the key is named by the model's error.
Interface = Annotated[str, pydantic.AfterValidator(_valid_interface)]
Tag = Annotated[str, pydantic.AfterValidator(_valid_tag)]
