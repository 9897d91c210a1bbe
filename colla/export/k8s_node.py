"""One DaemonSet config for every node: the node's own values filled in when its pod starts.

colla renders a container's files for each node (its address in ``my_ip``, ``local_ip``,
``bind_host``; its name in the header). A DaemonSet has one pod template, so its files
become a template: each node's own values are replaced by placeholders, and an init
container fills them in on the node from the downward API (the node's name, and its
IP, which is the address colla itself uses for a remote host: the inventory's).

Which occurrences are the node's own is not guessed: a template is kept only when
filling in each node's values gives back exactly the files colla rendered for that
node. (On a node that is also the controller, its address is both its own and the
broker's; another node's rendering tells them apart.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from colla.errors import BadInput
from colla.model.specs import CONFIG_MOUNT, ContainerSpec
from colla.model.topology import Topology

NAME = "@@COLLA_NODE_NAME@@"
ADDRESS = "@@COLLA_NODE_ADDRESS@@"
TEMPLATE_MOUNT = "/var/lib/colla/config-template"


def _values(node: str, topology: Topology) -> dict[str, str]:
    return {NAME: node, ADDRESS: topology.api_address[node]}


def _pattern(value: str) -> re.Pattern[str]:
    # Whole values only: 10.0.0.2 is not a part of 10.0.0.25, node1 not of node10.
    return re.compile(rf"(?<![\w.-]){re.escape(value)}(?![\w-]|\.\d)")


def _templated(text: str, values: Mapping[str, str]) -> str:
    for placeholder, value in values.items():
        text = _pattern(value).sub(placeholder, text)
    return text


def _filled(text: str, values: Mapping[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def node_templates(
    specs: Sequence[ContainerSpec], topology: Topology
) -> list[tuple[ContainerSpec, tuple[str, ...]]]:
    """The container's spec on each of its nodes (``specs``), as few templates as give
    every node back exactly its rendering, each with the nodes it serves: one for all
    nodes where their files differ only in their own names and addresses; more where a
    role adds settings (the network host's provider bridge). A template of one node is
    its spec unchanged: alone, its own address cannot be told from a shared one (an
    all-in-one has one address for everything)."""
    for spec in specs if len(specs) > 1 else ():
        tunnel = topology.tunnel_address.get(spec.node, topology.api_address[spec.node])
        if tunnel != topology.api_address[spec.node]:
            raise BadInput(
                f"{spec.name}: node {spec.node}'s tunnel address {tunnel} is not its API "
                "address, and a DaemonSet's pod learns only its node's IP: give the compute "
                "and network hosts one address, or deploy them with colla"
            )
    left = list(specs)
    found: list[tuple[ContainerSpec, tuple[str, ...]]] = []
    while left:
        candidates = [
            tuple(_templated(f.content, _values(s.node, topology)) for f in s.files) for s in left
        ]
        # The template most nodes share first: it serves them all at once.
        best = max(candidates, key=candidates.count)
        served = [s for s in left if _gives_back(best, s, topology)]
        if len(served) < 2:
            served = [left[0]]
            found.append((left[0], (left[0].node,)))
        else:
            files = tuple(replace(f, content=t) for f, t in zip(served[0].files, best, strict=True))
            found.append((replace(served[0], files=files), tuple(s.node for s in served)))
        left = [s for s in left if s not in served]
    return found


def _gives_back(contents: tuple[str, ...], spec: ContainerSpec, topology: Topology) -> bool:
    values = _values(spec.node, topology)
    return tuple(_filled(t, values) for t in contents) == tuple(f.content for f in spec.files)


def is_template(spec: ContainerSpec) -> bool:
    return any(NAME in f.content or ADDRESS in f.content for f in spec.files)


def fill_in(image: str) -> dict[str, Any]:
    """The init container that writes the node's config from the template."""
    script = (
        f'for f in {TEMPLATE_MOUNT}/*; do sed -e "s/{NAME}/$COLLA_NODE_NAME/g" '
        f'-e "s/{ADDRESS}/$COLLA_NODE_ADDRESS/g" "$f" > "{CONFIG_MOUNT}/${{f##*/}}"; done'
    )
    return {
        "name": "colla-node-config",
        "image": image,
        "command": ["/bin/sh", "-c", script],
        "env": [
            {"name": "COLLA_NODE_NAME", "valueFrom": _field("spec.nodeName")},
            {"name": "COLLA_NODE_ADDRESS", "valueFrom": _field("status.hostIP")},
        ],
        "volumeMounts": [
            {"name": "colla-config-template", "mountPath": TEMPLATE_MOUNT, "readOnly": True},
            {"name": "colla-config", "mountPath": CONFIG_MOUNT},
        ],
        "securityContext": {"privileged": False},
    }


def _field(path: str) -> dict[str, Any]:
    return {"fieldRef": {"fieldPath": path}}
