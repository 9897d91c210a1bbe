"""``colla registry``: an image registry container on this machine, for the lab's nodes.

It speaks plain HTTP. This engine pushes to it on 127.0.0.1:4000, which Docker trusts
without TLS because it is loopback, so this machine's engine needs no new setting; lab
nodes pull from its address on the lab's private network, which their dockerd lists
as an insecure registry. TLS would mean a CA in every node and in this engine's
certs.d for traffic that never leaves this machine. Port 4000: 5000 is Keystone's.
"""

from __future__ import annotations

from dataclasses import dataclass

from colla.engine import ContainerRequest, Engine
from colla.errors import BadInput
from colla.lab.settings import LABEL_REGISTRY, LabSettings

DEFAULT_IMAGE = "colla/registry:zed"
VOLUME = "colla-registry-data"


@dataclass(frozen=True)
class RegistryState:
    """The registry after ``registry up``: what was done and where it answers."""

    action: str  # created, started, unchanged
    push_address: str  # for this machine's engine
    pull_address: str  # for the lab's nodes


def registry_request(settings: LabSettings, image: str) -> ContainerRequest:
    """The registry container: published on loopback only."""
    return ContainerRequest(
        name=settings.registry_container,
        image=image,
        labels={LABEL_REGISTRY: "true"},
        volumes={VOLUME: "/var/lib/docker-registry"},
        health_test=None,
        restart="unless-stopped",
        network="bridge",
        publish={settings.registry_port: ("127.0.0.1", settings.registry_port)},
    )


def registry_up(engine: Engine, settings: LabSettings, image: str = DEFAULT_IMAGE) -> RegistryState:
    """Run the registry (or leave it running); join it to the lab's network if it exists."""
    if engine.image(image) is None:
        raise BadInput(f"registry image {image} is missing: build it (colla build '^registry$')")
    name = settings.registry_container
    current = engine.container(name)
    action = "unchanged"
    if current is not None and current.labels.get(LABEL_REGISTRY) != "true":
        raise BadInput(f"container {name} exists and is not colla's registry; left alone")
    if current is None:
        # Not labelled with the lab: it outlives `lab down`, like the registry.
        engine.create_volume(VOLUME, {LABEL_REGISTRY: "true"})
        engine.create_container(registry_request(settings, image))
        engine.start(name)
        action = "created"
    elif current.state != "running":
        engine.start(name)
        action = "started"
    network = engine.network(settings.network)
    if network is not None:
        attached = {c.get("Name") for c in (network.get("Containers") or {}).values()}
        if name not in attached:
            engine.connect_network(name, settings.network, settings.registry_address)
    return RegistryState(action, f"127.0.0.1:{settings.registry_port}", settings.docker_registry)


def registry_down(engine: Engine, settings: LabSettings, volume: bool) -> list[str]:
    """Remove the registry container (and its data with ``volume``)."""
    removed = []
    current = engine.container(settings.registry_container)
    if current is not None and current.labels.get(LABEL_REGISTRY) == "true":
        engine.remove_container(current.name)
        removed.append(f"container {current.name}")
    if volume and VOLUME in engine.volumes(f"{LABEL_REGISTRY}=true"):
        engine.remove_volume(VOLUME)
        removed.append(f"volume {VOLUME}")
    return removed
