"""Where things are: each node's addresses and what prechecks found out about the hosts
(resolved by :func:`colla.deploy.topology.topology`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topology:
    """Where things are: each node's API address and the address clients use, plus
    what prechecks found out about the hosts (tunnel addresses, the virt type)."""

    api_address: Mapping[str, str]
    internal_address: str
    database_address: str
    # Each node's address for tenant (vxlan) traffic; a missing node uses its API address.
    tunnel_address: Mapping[str, str] = field(default_factory=dict)
    virt_type: str = "kvm"
    # "iptables" where the kernel filters bridged traffic (br_netfilter), else "noop".
    firewall_driver: str = "iptables"
    # Worker processes per API service and per RPC service (openstack_service_workers
    # and openstack_service_rpc_workers, or sized from the machine).
    workers: int = 1
    rpc_workers: int = 1
