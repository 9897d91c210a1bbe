"""``colla lab``: N nodes on this machine, each a container with its own dockerd and sshd.

Nodes are Docker-in-Docker containers on a bridge network the lab creates. This engine
cannot run ``--privileged`` (its capability bounding set lacks CAP_SYS_RESOURCE), so a
node gets every other capability, no seccomp or AppArmor profile, the cgroup tree and
/dev/net/tun; its /var/lib/docker is a named volume, since overlay2 cannot stack on
the container's own overlay root. Everything the lab creates is labelled
``colla.lab=<name>``; nothing else is touched.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from colla.engine import ContainerRequest, DockerEngine, Engine
from colla.engine.endpoint import Endpoint
from colla.engine.transfer import FileEntry, files_tar
from colla.errors import BadInput, CollaError, EngineError
from colla.lab import files
from colla.lab.settings import LABEL_REGISTRY, LabSettings
from colla.model.privileges import Privileges

LABEL_LAB = "colla.lab"
LABEL_NODE = "colla.lab.node"
READY_TIMEOUT = 90.0


@dataclass(frozen=True)
class NodeState:
    """One lab node after ``lab up``: its name, address and what was done to it."""

    name: str
    address: str
    action: str  # created, started, unchanged, removed


@dataclass(frozen=True)
class LabState:
    """The lab after ``lab up``: its nodes, and the config directory it wrote."""

    nodes: tuple[NodeState, ...]
    config_dir: Path
    seconds: float


def node_container(settings: LabSettings, node: str) -> str:
    """The container name of a node."""
    return f"{settings.name}-{node}"


def node_volume(settings: LabSettings, node: str) -> str:
    """The volume holding a node's /var/lib/docker."""
    return f"{settings.name}-{node}-docker"


def node_endpoint(settings: LabSettings, node: str) -> Endpoint:
    """How colla reaches a lab node's engine: ssh as root with the lab's key and the
    known_hosts it wrote."""
    address = settings.node_address(node)
    return Endpoint(
        node=node,
        kind="ssh",
        url=f"ssh://root@{address}:22",
        host=address,
        port=22,
        user="root",
        key_file=str(settings.state_dir / "id_ed25519"),
        known_hosts=str(settings.state_dir / "known_hosts"),
    )


def dockerd_args(settings: LabSettings, node: str) -> tuple[str, ...]:
    """dockerd's arguments inside a node."""
    return (
        "--host=unix:///var/run/docker.sock",
        "--storage-driver=overlay2",
        # Its containers' cgroups stay apart from this engine's own under "docker".
        f"--cgroup-parent=/{node_container(settings, node)}",
        # The lab's registry speaks plain HTTP on the lab's own network (see registry.py).
        f"--insecure-registry={settings.registry_address}:{settings.registry_port}",
    )


def node_request(settings: LabSettings, node: str) -> ContainerRequest:
    """How a node's container is created."""
    return ContainerRequest(
        name=node_container(settings, node),
        image=settings.image,
        labels={LABEL_LAB: settings.name, LABEL_NODE: node},
        command=("tini", "--", "colla-lab-node", *dockerd_args(settings, node)),
        volumes={node_volume(settings, node): "/var/lib/docker"},
        binds={"/sys/fs/cgroup": "/sys/fs/cgroup:rw"},
        restart="unless-stopped",
        privileges=Privileges(
            cap_add=("ALL",),
            cap_drop=("SYS_RESOURCE",),
            security_opt=("seccomp=unconfined", "apparmor=unconfined"),
            devices=("/dev/net/tun",),
        ),
        network=settings.network,
        ip=settings.node_address(node),
        hostname=node,
    )


class Lab:
    """Brings a lab up and down on the local engine."""

    def __init__(self, engine: Engine, settings: LabSettings) -> None:
        self.engine = engine
        self.settings = settings

    def up(self) -> LabState:
        """Create or start the nodes, wait until each answers over SSH, write the config.

        Running nodes are left alone, so a second ``up`` changes nothing.
        """
        started = time.monotonic()
        s = self.settings
        if self.engine.image(s.image) is None:
            raise BadInput(f"lab image {s.image} is missing: build it (colla build '^lab-node$')")
        files.ensure_state_dir(s.state_dir)
        client_key = files.ensure_key(s.state_dir / "id_ed25519", f"colla-lab-{s.name}")
        self._ensure_network()
        wanted = s.node_names()
        states = [self._remove(name) for name in self._existing() if name not in wanted]
        for node in wanted:
            states.append(self._ensure_node(node, client_key))
        files.write_known_hosts(s, {n: files.host_key(s, n).public for n in wanted})
        for node in wanted:
            self._wait_ready(node)
        files.write_config(s)
        self._attach_registry()
        order = {n: i for i, n in enumerate(wanted)}
        states.sort(key=lambda st: order.get(st.name, -1))
        return LabState(tuple(states), s.state_dir, time.monotonic() - started)

    def down(self) -> list[str]:
        """Remove the nodes, their volumes, the network and the lab's state; what was removed.

        Nothing existing is no error. Of the state directory only the lab's files go (a
        directory the lab did not make is refused before anything is removed).
        """
        s = self.settings
        files.check_state_dir(s.state_dir)
        removed = []
        label = f"{LABEL_LAB}={s.name}"
        for info in self.engine.containers(label):
            if info.labels.get(LABEL_NODE):
                self.engine.remove_container(info.name)
                removed.append(f"container {info.name}")
        for volume in self.engine.volumes(label):
            self.engine.remove_volume(volume)
            removed.append(f"volume {volume}")
        for name in (s.network, s.external_network):
            network = self.engine.network(name)
            if network is None:
                continue
            if (network.get("Labels") or {}).get(LABEL_LAB) != s.name:
                raise CollaError(f"network {name} is not the lab's; left alone")
            for endpoint in (network.get("Containers") or {}).values():
                self.engine.disconnect_network(str(endpoint.get("Name", "")), name)
            self.engine.remove_network(name)
            removed.append(f"network {name}")
        if s.state_dir.exists():
            left = files.remove_state(s.state_dir)
            removed.append(
                f"state files in {s.state_dir} (kept it: it holds {', '.join(left[:3])})"
                if left
                else f"state {s.state_dir}"
            )
        return removed

    # ---------------------------------------------------------------------------------

    def _existing(self) -> list[str]:
        found = self.engine.containers(f"{LABEL_LAB}={self.settings.name}")
        return sorted(c.labels[LABEL_NODE] for c in found if c.labels.get(LABEL_NODE))

    def _ensure_network(self) -> None:
        s = self.settings
        for name, subnet in ((s.network, s.subnet), (s.external_network, s.external_subnet)):
            network = self.engine.network(name)
            if network is None:
                self.engine.create_network(name, str(subnet), {LABEL_LAB: s.name})
                continue
            if (network.get("Labels") or {}).get(LABEL_LAB) != s.name:
                raise BadInput(f"network {name} exists and is not lab {s.name}'s; choose --name")
            subnets = [c.get("Subnet") for c in (network.get("IPAM") or {}).get("Config") or []]
            if str(subnet) not in subnets:
                raise BadInput(
                    f"lab {s.name}: its network {name} has subnet "
                    f"{', '.join(map(str, subnets))}, not {subnet}; run `colla lab down` first"
                )

    def _ensure_node(self, node: str, client_key: files.KeyPair) -> NodeState:
        s = self.settings
        name = node_container(s, node)
        address = s.node_address(node)
        current = self.engine.container(name)
        if current is not None:
            if current.labels.get(LABEL_LAB) != s.name:
                raise BadInput(f"container {name} exists and is not lab {s.name}'s; left alone")
            if current.state == "running":
                return NodeState(node, address, "unchanged")
            self.engine.start(name)
            return NodeState(node, address, "started")
        host_key = files.host_key(s, node)
        self.engine.create_volume(node_volume(s, node), {LABEL_LAB: s.name, LABEL_NODE: node})
        self.engine.create_container(node_request(s, node))
        # Connected before the first start, it is the node's eth1.
        self.engine.connect_network(name, s.external_network)
        entries = (
            ("etc/ssh", [FileEntry("ssh_host_ed25519_key", host_key.private, 0o600)], 0o755),
            ("root/.ssh", [FileEntry("authorized_keys", client_key.public, 0o600)], 0o700),
        )
        for directory, content, mode in entries:
            parent, _, leaf = directory.rpartition("/")
            self.engine.put_files(name, f"/{parent}", files_tar(leaf, content, mode))
        self.engine.start(name)
        return NodeState(node, address, "created")

    def _remove(self, node: str) -> NodeState:
        s = self.settings
        self.engine.remove_container(node_container(s, node))
        self.engine.remove_volume(node_volume(s, node))
        return NodeState(node, s.node_address(node), "removed")

    def _wait_ready(self, node: str) -> None:
        s = self.settings
        endpoint = node_endpoint(s, node)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                DockerEngine.connect_endpoint(endpoint, timeout=10)
                return
            except EngineError as e:
                info = self.engine.container(node_container(s, node))
                if info is not None and info.state not in ("running", "restarting"):
                    logs = self.engine.logs(info.name, tail=10).strip().splitlines()
                    raise EngineError(
                        f"lab node {node} stopped ({info.state}, exit code {info.exit_code})",
                        tuple(logs),
                    ) from e
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"lab node {node} not ready after {READY_TIMEOUT:.0f} s: {e}"
                    ) from e
                time.sleep(0.5)

    def _attach_registry(self) -> None:
        s = self.settings
        info = self.engine.container(s.registry_container)
        if info is None or info.labels.get(LABEL_REGISTRY) != "true":
            return
        network = self.engine.network(s.network) or {}
        attached = {c.get("Name") for c in (network.get("Containers") or {}).values()}
        if s.registry_container not in attached:
            self.engine.connect_network(s.registry_container, s.network, s.registry_address)


def default_state_root() -> Path:
    """Where labs keep their keys and config: /var/lib/colla/lab as root, else ~/.local."""
    if os.geteuid() == 0:
        return Path("/var/lib/colla/lab")
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state"))
    return state / "colla/lab"
