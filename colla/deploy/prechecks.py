"""Prechecks: everything that can be known wrong before anything is changed."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from colla import netinfo
from colla.config.inventory import Host
from colla.deploy.desired import Topology, enabled_services
from colla.deploy.plan import Action, Plan
from colla.deploy.services import ServiceCatalog
from colla.engine import Engine
from colla.errors import BadInput
from colla.project import Project

MIN_DISK_BYTES = 5 * 1024**3
MIN_MEMORY_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    """One precheck's outcome."""

    name: str
    ok: bool
    detail: str


def is_local(host: Host) -> bool:
    """Whether colla runs on this host itself (its engine is the local one)."""
    if host.connection == "local" or host.name in ("localhost", "127.0.0.1"):
        return True
    try:
        return ipaddress.ip_address(host.address).is_loopback
    except ValueError:
        return False


def check_dependencies(project: Project, catalog: ServiceCatalog) -> None:
    """Every enabled service's dependencies are enabled too."""
    enabled = enabled_services(project, catalog)
    for name in sorted(enabled):
        for dep in catalog[name].depends_on:
            if dep not in enabled:
                raise BadInput(
                    f"{project.config_dir / 'globals.yml'}: enable_{name} needs {dep}, "
                    f"but enable_{dep} is false"
                )


def topology(project: Project) -> Topology:
    """Resolve every node's API address; bad interfaces are errors naming host and key."""
    g = project.globals
    addresses: dict[str, str] = {}
    for host in project.inventory.hosts.values():
        interface = host.api_interface or host.network_interface or g.effective_api_interface
        if is_local(host):
            if not netinfo.interface_exists(interface):
                raise BadInput(
                    f"host {host.name}: api_interface/network_interface '{interface}' does not "
                    "exist on this machine"
                )
            address = netinfo.ipv4_address(interface)
            if address is None:
                raise BadInput(f"host {host.name}: interface '{interface}' has no IPv4 address")
            addresses[host.name] = address
        else:
            addresses[host.name] = host.address
    control = project.inventory.hosts_in("control")
    first = addresses[control[0].name]
    vip = g.kolla_internal_vip_address
    if vip is not None and vip != first and not g.enabled.get("haproxy", False):
        raise BadInput(
            f"{project.config_dir / 'globals.yml'}: kolla_internal_vip_address {vip} must be the "
            f"first control host's API address ({first}) while haproxy is not enabled"
        )
    return Topology(api_address=addresses, internal_address=vip or first, database_address=first)


def check_ports(plan: Plan, addresses: Mapping[str, str], local: set[str]) -> list[Check]:
    """Ports of containers about to be created must be free (on local nodes)."""
    checks = []
    for change in plan.changes:
        if change.action is not Action.CREATE or change.spec is None or change.node not in local:
            continue
        for port in change.spec.ports:
            address = addresses[change.node]
            if netinfo.port_in_use(address, port):
                owner = netinfo.listener_process(port)
                by = f" by {owner}" if owner else ""
                checks.append(
                    Check(
                        f"port {port}",
                        False,
                        f"{address}:{port} needed by {change.name} is already in use{by}",
                    )
                )
            else:
                checks.append(
                    Check(f"port {port}", True, f"{address}:{port} free for {change.name}")
                )
    return checks


def check_host_resources(engine: Engine) -> list[Check]:
    """Disk under Docker's root and available memory on this machine."""
    checks = []
    root = Path(engine.docker_root())
    free = shutil.disk_usage(root if root.exists() else Path("/")).free
    checks.append(
        Check("disk", free >= MIN_DISK_BYTES, f"{free / 1024**3:.1f} GiB free under {root}")
    )
    available = _mem_available()
    if available is not None:
        checks.append(
            Check(
                "memory",
                available >= MIN_MEMORY_BYTES,
                f"{available / 1024**3:.1f} GiB available (need {MIN_MEMORY_BYTES / 1024**3:.0f})",
            )
        )
    return checks


def check_images(engine: Engine, refs: set[str]) -> tuple[dict[str, str], list[Check]]:
    """Every image the deployment needs exists; returns ref → image ID."""
    ids: dict[str, str] = {}
    checks = []
    for ref in sorted(refs):
        info = engine.image(ref)
        if info is None:
            checks.append(Check(f"image {ref}", False, f"{ref} is missing: run `colla build`"))
        else:
            ids[ref] = info.id
            checks.append(Check(f"image {ref}", True, info.id[7:19]))
    return ids, checks


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
