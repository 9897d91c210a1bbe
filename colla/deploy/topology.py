"""Where things are: each node's addresses and what its services need of the host,
resolved once from the project (and this machine's interfaces and kernel)."""

from __future__ import annotations

import ipaddress

from colla import hostinfo, netinfo
from colla.config.inventory import Host
from colla.errors import BadInput
from colla.model.services import ServiceCatalog
from colla.model.topology import Topology
from colla.project import Project


def is_local(host: Host) -> bool:
    """Whether colla runs on this host itself (its engine is the local one)."""
    if host.connection == "local" or host.name in ("localhost", "127.0.0.1"):
        return True
    try:
        return ipaddress.ip_address(host.address).is_loopback
    except ValueError:
        return False


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


def topology(project: Project, catalog: ServiceCatalog) -> Topology:
    """Resolve every node's addresses and what its services need of the host; bad
    interfaces and impossible settings are errors naming host, file and key.

    What the host must offer follows from the ``host_features`` the enabled services
    declare in the catalog: a guest's virt type, and a network agent's tunnel addresses
    and provider interface. Worker counts not set in globals are sized from this
    machine, which on a lab or an all-in-one is every node's.
    """
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
    needs = {
        feature
        for name, service in catalog.services.items()
        if g.enabled.get(name, False)
        for feature in service.host_features
    }
    tunnels: dict[str, str] = {}
    if "network_agent" in needs:
        tunnels = _tunnels(project)
        _check_external_interface(project)
    virt_type = _virt_type(project) if "virt_type" in needs else g.nova_compute_virt_type or "kvm"
    size = hostinfo.size()
    return Topology(
        api_address=addresses,
        internal_address=vip or first,
        database_address=first,
        tunnel_address=tunnels,
        virt_type=virt_type,
        firewall_driver="iptables" if hostinfo.bridge_netfilter().present else "noop",
        workers=g.openstack_service_workers or default_workers(size, API_WORKERS_MAX),
        rpc_workers=g.openstack_service_rpc_workers or default_workers(size, RPC_WORKERS_MAX),
    )


# kolla-ansible's caps: past them, more processes of one service rarely serve more.
API_WORKERS_MAX = 5
RPC_WORKERS_MAX = 3
# What one worker may count on. Every service of a node shares its cores, so one
# process per two cores; an OpenStack worker takes 100 to 150 MiB, and a node runs
# about a dozen services with workers, so one per 4 GiB keeps them all in memory.
CPUS_PER_WORKER = 2
GIB_PER_WORKER = 4


def default_workers(size: hostinfo.Size, cap: int) -> int:
    """Worker processes per service on a machine of ``size``: at least one, at most
    ``cap``, and no more than its cores and memory carry."""
    by_cpus = size.cpus // CPUS_PER_WORKER
    by_memory = int(size.memory_gib // GIB_PER_WORKER)
    return max(1, min(cap, by_cpus, by_memory))


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
