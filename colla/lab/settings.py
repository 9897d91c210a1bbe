"""A lab's settings: its name, nodes, network, image and state directory (validated)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pydantic

from colla.errors import BadInput

DEFAULT_NAME = "colla-lab"
# Outside Docker's default address pools (172.17-31.x, 192.168.x) and unusual on LANs.
DEFAULT_SUBNET = "10.213.42.0/24"
DEFAULT_IMAGE = "colla/lab-node:zed"
REGISTRY_CONTAINER = "colla-registry"
LABEL_REGISTRY = "colla.registry"
REGISTRY_PORT = 4000
MAX_NODES = 9
# Host numbers inside the subnet: the gateway is .1 (Docker's), the registry .2,
# node i is .(10 + i).
REGISTRY_HOST = 2
FIRST_NODE_HOST = 10


class LabSettings(pydantic.BaseModel):
    """Everything that names or places a lab; frozen once validated."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = pydantic.Field(default=DEFAULT_NAME, pattern=r"^[a-z][a-z0-9-]{0,30}$")
    nodes: int = pydantic.Field(default=3, ge=1, le=MAX_NODES)
    subnet: ipaddress.IPv4Network = ipaddress.IPv4Network(DEFAULT_SUBNET)
    image: str = DEFAULT_IMAGE
    state_dir: Path
    registry_container: str = REGISTRY_CONTAINER
    registry_port: int = REGISTRY_PORT

    @pydantic.field_validator("subnet")
    @classmethod
    def _room(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= value.prefixlen <= 27:
            raise ValueError("expected a prefix from /16 to /27")
        return value

    @property
    def network(self) -> str:
        """The lab's Docker network."""
        return self.name

    @property
    def external_network(self) -> str:
        """The second network: each node's eth1, a spare interface for Neutron's provider
        network (neutron_external_interface), which would lose its address to a bridge."""
        return f"{self.name}-ext"

    @property
    def external_subnet(self) -> ipaddress.IPv4Network:
        """The second network's subnet: the block right after the lab's subnet."""
        return ipaddress.IPv4Network(
            (int(self.subnet.network_address) + self.subnet.num_addresses, self.subnet.prefixlen)
        )

    @property
    def registry_address(self) -> str:
        """The registry's address on the lab network (what nodes pull from)."""
        return str(self.subnet.network_address + REGISTRY_HOST)

    @property
    def docker_registry(self) -> str:
        """``docker_registry`` for the lab's globals.yml."""
        return f"{self.registry_address}:{self.registry_port}"

    def node_names(self) -> list[str]:
        """node1 … nodeN."""
        return [f"node{i}" for i in range(1, self.nodes + 1)]

    def node_address(self, node: str) -> str:
        """A node's fixed address."""
        index = int(node.removeprefix("node"))
        return str(self.subnet.network_address + FIRST_NODE_HOST + index)


def lab_settings(**values: object) -> LabSettings:
    """Validate command-line values; a bad one is a one-line error naming the option."""
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return LabSettings.model_validate(given)
    except pydantic.ValidationError as e:
        error = e.errors()[0]
        option = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "lab"
        raise BadInput(f"{option}: {error['msg']}") from None
