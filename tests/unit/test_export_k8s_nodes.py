"""``colla k8s`` across nodes: one DaemonSet config, each node's own values filled in
when its pod starts, and every pod gets exactly what colla renders for its node."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from colla.catalog import load_services
from colla.config.example import write_example
from colla.deploy.desired import desired_state, image_refs, resolve_images
from colla.errors import BadInput
from colla.export.k8s import manifests
from colla.export.k8s_node import ADDRESS, NAME, node_templates
from colla.model.specs import NodeSpecs
from colla.model.topology import Topology
from colla.project import load_project

INVENTORY = """
[control]
ctl1 ansible_host=10.0.0.1
[network]
ctl1
[compute]
cmp1 ansible_host=10.0.0.3
cmp2 ansible_host=10.0.0.31
"""
ADDRESSES = {"ctl1": "10.0.0.1", "cmp1": "10.0.0.3", "cmp2": "10.0.0.31"}
TOPOLOGY = Topology(ADDRESSES, "10.0.0.1", "10.0.0.1", tunnel_address=ADDRESSES, virt_type="qemu")


def _nodes(tmp_path: Path) -> tuple[dict[str, NodeSpecs], list[str]]:
    catalog = load_services()
    write_example(tmp_path, catalog.defaults())
    keys = catalog.required_passwords(set(catalog.services))
    (tmp_path / "passwords.yml").write_text("".join(f"{k}: pw-{k}\n" for k in keys))
    (tmp_path / "inventory").write_text(INVENTORY)
    text = (tmp_path / "globals.yml").read_text()
    (tmp_path / "globals.yml").write_text(
        text.replace(
            'kolla_internal_vip_address: "127.0.0.1"', 'kolla_internal_vip_address: "10.0.0.1"'
        )
    )
    project = load_project(tmp_path, catalog)
    nodes = desired_state(project, catalog, TOPOLOGY)
    ids = {ref: "sha256:" + "0" * 64 for ref in image_refs(nodes)}
    return resolve_images(nodes, ids), list(project.passwords.values.values())


def _files(objects: dict[str, dict[str, Any]], name: str) -> dict[str, str]:
    """The files of a workload's ConfigMap and Secret, by name."""
    files: dict[str, str] = {}
    for obj in objects.values():
        if obj["metadata"]["name"] == f"{name}-config" and obj["kind"] == "ConfigMap":
            files.update(obj["data"])
        if obj["metadata"]["name"] == f"{name}-secret" and obj["kind"] == "Secret":
            files.update({k: base64.b64decode(v).decode() for k, v in obj["data"].items()})
    return files


def _started_on(node: str, text: str) -> str:
    """What the init container's sed makes of a template on ``node``."""
    return text.replace(NAME, node).replace(ADDRESS, ADDRESSES[node])


def _hosts(pod: dict[str, Any]) -> list[str]:
    """The hosts a pod is pinned to by the colla.io/host label."""
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (term,) = terms["nodeSelectorTerms"]
    (expression,) = term["matchExpressions"]
    assert expression["key"] == "colla.io/host" and expression["operator"] == "In"
    return list(expression["values"])


def test_each_daemonset_pod_gets_its_own_nodes_addresses(tmp_path: Path) -> None:
    nodes, secrets = _nodes(tmp_path)
    objects = manifests(nodes, load_services(), TOPOLOGY, secrets).objects
    version = kubernetes_validate.latest_version()
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)
    daemonsets = {o["metadata"]["name"]: o for o in objects.values() if o["kind"] == "DaemonSet"}
    # nova-compute: one template for both computes, on the group's nodes. The Linux
    # bridge agent: the network host's has the provider bridge too, so it is a part of
    # its own, as rendered, and each part is pinned to its hosts.
    compute = daemonsets["nova-compute"]["spec"]["template"]["spec"]
    assert compute["nodeSelector"] == {"colla.io/compute": "true"}
    assert _hosts(daemonsets["neutron-linuxbridge-agent"]["spec"]["template"]["spec"]) == [
        "cmp1",
        "cmp2",
    ]
    network = daemonsets["neutron-linuxbridge-agent-ctl1"]["spec"]["template"]["spec"]
    assert _hosts(network) == ["ctl1"]
    assert "colla-node-config" not in {c["name"] for c in network.get("initContainers", [])}
    for name in ("nova-compute", "neutron-linuxbridge-agent"):
        container = name.replace("-", "_")
        template = _files(objects, name)
        assert any(ADDRESS in text for text in template.values()), name
        for node in ("cmp1", "cmp2"):
            (spec,) = [s for s in nodes[node].containers if s.name == container]
            # Exactly colla's rendering for that node: its my_ip or local_ip, and the
            # controller's addresses left as they are.
            assert {n: _started_on(node, t) for n, t in template.items()} == {
                f.name: f.content for f in spec.files
            }, (name, node)
        pod = daemonsets[name]["spec"]["template"]["spec"]
        init = pod["initContainers"][0]
        assert init["name"] == "colla-node-config"
        env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in init["env"]}
        assert env == {"COLLA_NODE_NAME": "spec.nodeName", "COLLA_NODE_ADDRESS": "status.hostIP"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["colla-config"] == {"name": "colla-config", "emptyDir": {"medium": "Memory"}}
        assert "projected" in volumes["colla-config-template"]


def _service(nodes: dict[str, NodeSpecs], container: str) -> str:
    return next(s.service for n in nodes.values() for s in n.containers if s.name == container)


def test_a_config_that_differs_beyond_names_and_addresses_is_its_own_part(
    tmp_path: Path,
) -> None:
    nodes, _ = _nodes(tmp_path)
    specs = [s for n in ("cmp1", "cmp2") for s in nodes[n].containers if s.name == "nova_compute"]
    odd = dataclasses.replace(
        specs[1],
        files=tuple(
            dataclasses.replace(f, content=f.content + "debug = true\n") for f in specs[1].files
        ),
    )
    assert node_templates([specs[0], odd], TOPOLOGY) == [(specs[0], ("cmp1",)), (odd, ("cmp2",))]


def test_a_separate_tunnel_network_is_refused(tmp_path: Path) -> None:
    nodes, _ = _nodes(tmp_path)
    specs = [s for n in ("cmp1", "cmp2") for s in nodes[n].containers if s.name == "nova_compute"]
    split = dataclasses.replace(TOPOLOGY, tunnel_address={**ADDRESSES, "cmp2": "10.1.0.31"})
    with pytest.raises(BadInput, match=r"node cmp2's tunnel address 10.1.0.31 is not its API"):
        node_templates(specs, split)


def test_one_node_keeps_its_rendering(tmp_path: Path) -> None:
    """Alone, a node's own address cannot be told from the controller's (an all-in-one
    has one address for everything): the files stay as rendered, with no init step."""
    nodes, secrets = _nodes(tmp_path)
    (dhcp,) = [s for n in nodes.values() for s in n.containers if s.name == "neutron_dhcp_agent"]
    assert node_templates([dhcp], TOPOLOGY) == [(dhcp, ("ctl1",))]
    objects = manifests(nodes, load_services(), TOPOLOGY, secrets).objects
    pod = objects["neutron_agents/daemonset-neutron-dhcp-agent.yaml"]["spec"]["template"]["spec"]
    assert "colla-node-config" not in {c["name"] for c in pod.get("initContainers", [])}
