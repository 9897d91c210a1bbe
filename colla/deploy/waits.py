"""What each container waits for before its service starts: one address of each service
it depends on, written into its config.json for colla-start.

colla's own deploy starts containers in dependency order, health-gated, so the waits
pass at once there. They matter when the engine restarts (a host reboot): every
container starts at the same moment, and a service that started before its
dependencies answered stayed broken for minutes (the Neutron DHCP and L3 agents were
reported dead after RPC timeouts while RabbitMQ and neutron-server came up). They also
order a Compose export's `up`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from colla.model.services import ServiceCatalog
from colla.model.specs import ContainerSpec, RenderedFile

CONFIG_JSON = "config.json"


@dataclass(frozen=True)
class Reach:
    """How dependents reach a service: each node's API address, the VIP, and whether
    HAProxy serves the APIs there."""

    api_address: Mapping[str, str]
    internal_address: str
    haproxy: bool


def _targets(
    placement: Mapping[str, Sequence[str]], catalog: ServiceCatalog, reach: Reach
) -> dict[str, list[tuple[str, str]]]:
    """Service → (node, HOST:PORT) of each of its containers that listens on a port, from
    where the inventory places it (``placement``: service → its nodes), so that rendering
    some services only (an upgrade's) gives them the same waits as rendering them all.

    The port is the catalog's, not an upgrade slot's: an API behind HAProxy is waited
    for at the VIP, so a dependent's config does not change when the API moves slot.
    """
    found: dict[str, list[tuple[str, str]]] = {}
    for service, nodes in sorted(placement.items()):
        for node in sorted(nodes):
            for item in catalog[service].containers:
                port = item.api_port or (item.ports[0] if item.ports else None)
                if port is None:
                    continue
                behind_haproxy = reach.haproxy and item.api_port
                host = reach.internal_address if behind_haproxy else reach.api_address[node]
                found.setdefault(service, []).append((node, f"{host}:{port}"))
    return found


def with_waits(
    containers: Mapping[str, Sequence[ContainerSpec]],
    catalog: ServiceCatalog,
    reach: Reach,
    placement: Mapping[str, Sequence[str]],
) -> dict[str, list[ContainerSpec]]:
    """The containers, each config.json naming one address per dependency: the one on
    the container's own node where there is one (a dead node must not hold back the
    others), else the first."""
    targets = _targets(placement, catalog, reach)
    result: dict[str, list[ContainerSpec]] = {}
    for node, specs in containers.items():
        result[node] = []
        for spec in specs:
            waits = []
            for dep in catalog[spec.service].depends_on:
                candidates = targets.get(dep, [])
                local = [t for n, t in candidates if n == node]
                if local or candidates:
                    waits.append((local or [candidates[0][1]])[0])
            result[node].append(_with_config_waits(spec, waits) if waits else spec)
    return result


def _with_config_waits(spec: ContainerSpec, waits: list[str]) -> ContainerSpec:
    files = []
    for f in spec.files:
        if f.name == CONFIG_JSON:
            data = json.loads(f.content)
            data["wait_for"] = waits
            f = RenderedFile(f.name, f.dest, f.owner, f.perm, json.dumps(data, indent=2) + "\n")
        files.append(f)
    return replace(spec, files=tuple(files))
