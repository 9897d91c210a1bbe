"""``colla stop``'s order: dependents before what they depend on, each level at once.

Stopping one container after another made `colla stop` the sum of every service's
graceful shutdown (Neutron's server and agents take 5 to 9 s each); stopping RabbitMQ
or MariaDB before their clients filled the clients' logs with reconnect errors. The
reverse of the deploy's dependency levels avoids both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from colla.deploy.nodes import in_parallel
from colla.engine import ContainerInfo
from colla.errors import CollaError
from colla.model.services import ServiceCatalog
from colla.model.specs import LABEL_NODE, LABEL_SERVICE

T = TypeVar("T")


def stop_levels(
    found: Sequence[tuple[T, ContainerInfo]], catalog: ServiceCatalog
) -> list[list[tuple[T, ContainerInfo]]]:
    """``found`` (an engine and a container, any nodes) in the order to stop them: the
    reverse of the dependency levels of their services; a container of a service the
    catalog does not know goes first, since nothing colla deploys depends on it."""
    services = {c.labels.get(LABEL_SERVICE, "") for _, c in found}
    levels = catalog.levels(services & set(catalog.services))
    rank = {service: i for i, level in enumerate(levels) for service in level}
    by_rank: dict[int, list[tuple[T, ContainerInfo]]] = {}
    for pair in found:
        level = rank.get(pair[1].labels.get(LABEL_SERVICE, ""), len(levels))
        by_rank.setdefault(level, []).append(pair)
    return [by_rank[r] for r in sorted(by_rank, reverse=True)]


def stop_in_order(
    found: Sequence[tuple[T, ContainerInfo]],
    catalog: ServiceCatalog,
    stop: Callable[[T, ContainerInfo], None],
) -> list[str]:
    """Stop every running container of ``found`` level by level (``stop`` does one);
    the ``node/name`` of each stopped, in order. A failure stops no further level."""
    done: list[str] = []
    for level in stop_levels([p for p in found if p[1].state == "running"], catalog):
        keys = {f"{c.labels.get(LABEL_NODE, '')}/{c.name}": (e, c) for e, c in level}
        _, errors = in_parallel(keys, functools.partial(_stop_one, keys, stop))
        done += sorted(k for k in keys if k not in errors)
        if errors:
            key, error = sorted(errors.items())[0]
            stopped = ", ".join(done) or "nothing"
            raise CollaError(f"stopping {key}: {error}; stopped: {stopped}")
    return done


def _stop_one(
    keys: Mapping[str, tuple[T, ContainerInfo]], stop: Callable[[T, ContainerInfo], None], key: str
) -> None:
    stop(*keys[key])
