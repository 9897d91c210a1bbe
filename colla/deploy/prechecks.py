"""Prechecks: everything that can be known wrong before anything is changed."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from colla import hostinfo, netinfo
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


def _address(host: Host, interface: str, keys: str) -> str:
    """The IPv4 address of a host's interface; a remote host's is its inventory address."""
    if not is_local(host):
        return host.address
    if not netinfo.interface_exists(interface):
        raise BadInput(f"host {host.name}: {keys} '{interface}' does not exist on this machine")
    address = netinfo.ipv4_address(interface)
    if address is None:
        raise BadInput(f"host {host.name}: {keys} '{interface}' has no IPv4 address")
    return address


def topology(project: Project) -> Topology:
    """Resolve every node's addresses and what its services need of the host; bad
    interfaces and impossible settings are errors naming host, file and key."""
    g = project.globals
    addresses: dict[str, str] = {}
    for host in project.inventory.hosts.values():
        interface = host.api_interface or host.network_interface or g.effective_api_interface
        addresses[host.name] = _address(host, interface, "api_interface/network_interface")
    control = project.inventory.hosts_in("control")
    first = addresses[control[0].name]
    vip = g.kolla_internal_vip_address
    if vip is not None and vip != first and not g.enabled.get("haproxy", False):
        raise BadInput(
            f"{project.config_dir / 'globals.yml'}: kolla_internal_vip_address {vip} must be the "
            f"first control host's API address ({first}) while haproxy is not enabled"
        )
    enabled = g.enabled
    tunnels: dict[str, str] = {}
    if enabled.get("neutron"):
        tunnels = _tunnels(project)
        _check_external_interface(project)
    virt_type = _virt_type(project) if enabled.get("nova") else g.nova_compute_virt_type or "kvm"
    return Topology(
        api_address=addresses,
        internal_address=vip or first,
        database_address=first,
        tunnel_address=tunnels,
        virt_type=virt_type,
        firewall_driver="iptables" if hostinfo.bridge_netfilter().present else "noop",
    )


def _tunnels(project: Project) -> dict[str, str]:
    """Each network and compute host's address for vxlan traffic."""
    g = project.globals
    found: dict[str, str] = {}
    hosts = {h.name: h for grp in ("network", "compute") for h in project.inventory.hosts_in(grp)}
    for name, host in sorted(hosts.items()):
        interface = (
            host.vars.get("tunnel_interface")
            or g.tunnel_interface
            or host.network_interface
            or g.network_interface
        )
        found[name] = _address(host, str(interface), "tunnel_interface/network_interface")
    return found


def _check_external_interface(project: Project) -> None:
    """Network hosts need the provider network's interface, and it must be a spare one."""
    g = project.globals
    path = project.config_dir / "globals.yml"
    interface = g.neutron_external_interface
    network = project.inventory.hosts_in("network")
    if not network:
        return
    if interface is None:
        raise BadInput(
            f"{path}: neutron_external_interface is not set; network host(s) "
            f"{', '.join(h.name for h in network)} need an interface for the provider network"
        )
    for host in network:
        if not is_local(host):
            continue
        own = {host.api_interface, host.network_interface, g.network_interface, g.api_interface}
        if interface in own:
            raise BadInput(
                f"{path}: neutron_external_interface '{interface}' is host {host.name}'s "
                "network/API interface; it would lose its address to the provider bridge"
            )
        if not netinfo.interface_exists(interface):
            raise BadInput(
                f"{path}: neutron_external_interface '{interface}' does not exist on "
                f"host {host.name}"
            )


def _virt_type(project: Project) -> str:
    """nova_compute_virt_type, or kvm where this machine can run KVM guests."""
    g = project.globals
    local_compute = [h for h in project.inventory.hosts_in("compute") if is_local(h)]
    support = hostinfo.kvm()
    if g.nova_compute_virt_type == "kvm" and local_compute and not support.present:
        raise BadInput(
            f"{project.config_dir / 'globals.yml'}: nova_compute_virt_type 'kvm': compute host "
            f"{local_compute[0].name} cannot run KVM guests ({support.reason}); use 'qemu'"
        )
    if g.nova_compute_virt_type is not None:
        return g.nova_compute_virt_type
    return "kvm" if support.present else "qemu"


def check_host_features(project: Project, topo: Topology) -> list[Check]:
    """What prechecks chose for the hosts' virtualisation and networking, and why."""
    g = project.globals
    checks = []
    if g.enabled.get("nova"):
        support = hostinfo.kvm()
        how = "set in globals.yml" if g.nova_compute_virt_type else "detected"
        checks.append(Check("virt type", True, f"{topo.virt_type} ({how}; {support.reason})"))
    if g.enabled.get("neutron"):
        ovs = hostinfo.openvswitch()
        checks.append(
            Check(
                "neutron agent",
                True,
                f"linuxbridge ({ovs.reason}; colla's catalog ships the Linux bridge agent)",
            )
        )
        nf = hostinfo.bridge_netfilter()
        checks.append(
            Check(
                "security groups",
                True,
                f"firewall_driver {topo.firewall_driver} ({nf.reason})",
            )
        )
    return checks


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
