"""Prechecks: everything that can be known wrong before anything is changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from colla import hostinfo, netinfo
from colla.deploy.desired import enabled_services
from colla.deploy.plan import Action, Plan
from colla.engine import Engine
from colla.errors import BadInput
from colla.model.catalog import HostFeature
from colla.model.services import ServiceCatalog
from colla.model.topology import Topology
from colla.project import Project

MIN_DISK_BYTES = 5 * 1024**3
MIN_MEMORY_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    """One precheck's outcome."""

    name: str
    ok: bool
    detail: str


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


def check_single_hosts(project: Project, catalog: ServiceCatalog) -> None:
    """Services the catalog marks ``single_host`` run on one host: with more, each host
    would run its own unclustered copy while the others expect one."""
    inventory = project.inventory
    where = project.inventory_path or "inventory"
    for name in sorted(enabled_services(project, catalog)):
        service = catalog[name]
        hosts = service.hosts(inventory)
        if service.single_host is None or len(hosts) <= 1:
            continue
        groups = name if name in inventory.groups else ", ".join(service.groups)
        raise BadInput(
            f"{where}: group '{groups}' has {len(hosts)} hosts "
            f"({', '.join(h.name for h in hosts)}); {service.single_host}: put one host in it"
        )


def _virt_type(project: Project, topo: Topology) -> Check:
    support = hostinfo.kvm()
    how = "set in globals.yml" if project.globals.nova_compute_virt_type else "detected"
    return Check("virt type", True, f"{topo.virt_type} ({how}; {support.reason})")


def _network_agent(project: Project, topo: Topology) -> Check:
    ovs = hostinfo.openvswitch()
    detail = f"linuxbridge ({ovs.reason}; colla's catalog ships the Linux bridge agent)"
    return Check("neutron agent", True, detail)


def _firewall(project: Project, topo: Topology) -> Check:
    nf = hostinfo.bridge_netfilter()
    return Check("security groups", True, f"firewall_driver {topo.firewall_driver} ({nf.reason})")


# Each host feature a service can declare (``host_features:``), in the order reported.
_FEATURES: dict[HostFeature, Callable[[Project, Topology], Check]] = {
    "virt_type": _virt_type,
    "network_agent": _network_agent,
    "firewall": _firewall,
}


def check_host_features(project: Project, catalog: ServiceCatalog, topo: Topology) -> list[Check]:
    """What prechecks chose for the hosts' virtualisation and networking, and why: for
    each feature an enabled service declares."""
    declared = {
        f for name in enabled_services(project, catalog) for f in catalog[name].host_features
    }
    return [check(project, topo) for feature, check in _FEATURES.items() if feature in declared]


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
