"""Pins of what privileges turn into: spec hashes, history records, Compose and Kubernetes.

A changed spec hash recreates the container on every operator's next deploy, so the way
privileges are modelled may change but what they serialize to may not. The values below
were computed before privileges became one model (issue 14) and must stay as they are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from colla.catalog import load_services
from colla.config.example import write_example
from colla.deploy.desired import desired_state
from colla.export.compose import node_compose
from colla.export.k8s import manifests
from colla.model.specs import ContainerSpec, NodeSpecs, spec_from_dict, spec_to_dict
from colla.model.topology import Topology
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")

# Spec hashes of the all-in-one example with fixed passwords and config directories.
PINNED_HASHES = {
    # Docker's defaults only. Its hash also covers keystone.conf, which now sets the
    # token lifetimes and max_active_keys (issue 17), and the uwsgi processes, now
    # openstack_service_workers (issue 18): deliberate, one-time recreates.
    "keystone": "11e29fa7138a328a",
    # Capabilities, AppArmor off, an init. These two hashes also cover nova.conf and
    # neutron.conf, which now ask for quorum queues in their own vhost (the
    # om_enable_rabbitmq_quorum_queues default), and which now start privileged commands
    # and privsep daemons with sudo alone, without rootwrap (issue 18): deliberate,
    # one-time recreates.
    "neutron_l3_agent": "2961f23a287b1e52",
    "nova_compute": "7ad5049ebb670941",
    "nova_libvirt": "fa541f1485d1f2ef",  # a device
}
# Every kind of grant at once: the catalog declares no pid, ipc or cap_drop today.
EVERYTHING: dict[str, Any] = {
    "cap_add": ("NET_ADMIN", "SYS_ADMIN"),
    "cap_drop": ("NET_RAW", "MKNOD"),
    "security_opt": ("seccomp=unconfined", "apparmor=unconfined"),
    "devices": ("/dev/net/tun", "/dev/kvm"),
    "pid_mode": "host",
    "ipc_mode": "host",
    "init": True,
    "reason": "every grant, to pin their serialization",
}
EVERYTHING_HASH = "5042564c7c5dbbee"
# What the spec label and the history record say of those privileges.
EVERYTHING_PUBLIC = (
    '{"cap_add": ["NET_ADMIN", "SYS_ADMIN"], "cap_drop": ["NET_RAW", "MKNOD"], '
    '"devices": ["/dev/net/tun", "/dev/kvm"], "init": true, "ipc_mode": "host", '
    '"pid_mode": "host", "reason": "every grant, to pin their serialization", '
    '"security_opt": ["seccomp=unconfined", "apparmor=unconfined"]}'
)
DEFAULTS_PUBLIC = (
    '{"cap_add": [], "cap_drop": [], "devices": [], "init": false, "ipc_mode": null, '
    '"pid_mode": null, "reason": "", "security_opt": []}'
)


@pytest.fixture
def node(tmp_path: Path) -> NodeSpecs:
    """The example's specs, with nothing random or machine-dependent left in them."""
    catalog = load_services()
    write_example(tmp_path, catalog.defaults())
    keys = sorted(catalog.required_passwords(set(catalog.services)))
    (tmp_path / "passwords.yml").write_text(yaml.safe_dump({k: f"pinned-{k}" for k in keys}))
    specs = desired_state(load_project(tmp_path, catalog), catalog, TOPOLOGY)["localhost"]
    fixed = tuple(replace(c, config_dir=f"/etc/colla/node/{c.name}") for c in specs.containers)
    return replace(specs, containers=fixed)


def _spec(node: NodeSpecs, name: str) -> ContainerSpec:
    return next(c for c in node.containers if c.name == name)


def _everything(node: NodeSpecs) -> ContainerSpec:
    spec = _spec(node, "nova_libvirt")
    return replace(spec, privileges=replace(spec.privileges, **EVERYTHING))


def test_spec_hashes_are_pinned(node: NodeSpecs) -> None:
    assert {name: _spec(node, name).spec_hash for name in PINNED_HASHES} == PINNED_HASHES
    assert _everything(node).spec_hash == EVERYTHING_HASH


def test_the_spec_label_and_history_record_of_privileges_are_pinned(node: NodeSpecs) -> None:
    for spec, expected in (
        (_everything(node), EVERYTHING_PUBLIC),
        (_spec(node, "keystone"), DEFAULTS_PUBLIC),
    ):
        assert json.dumps(spec.public()["privileges"], sort_keys=True) == expected
        assert json.loads(spec.labels()["colla.spec"])["privileges"] == json.loads(expected)
        record = json.loads(json.dumps(spec_to_dict(spec)))
        assert record["privileges"] == json.loads(expected)
        assert spec_from_dict(record) == spec


def test_a_history_record_of_the_old_shape_still_loads(node: NodeSpecs) -> None:
    spec = _everything(node)
    record = json.loads(json.dumps(asdict(spec)))
    assert spec_from_dict(record).privileges == spec.privileges


_COMPOSE_KEYS = ("cap_add", "cap_drop", "security_opt", "devices", "pid", "ipc", "init")


def _compose_privileges(node: NodeSpecs) -> dict[str, dict[str, Any]]:
    document, _ = node_compose(node, load_services())
    return {
        name: {k: entry[k] for k in _COMPOSE_KEYS if k in entry}
        for name, entry in document["services"].items()
        if not name.startswith("task-")
    }


def test_compose_privileges_are_pinned(node: NodeSpecs) -> None:
    found = _compose_privileges(node)
    neutron = {
        "cap_add": ["NET_ADMIN", "SYS_ADMIN"],
        "security_opt": ["apparmor=unconfined"],
        "init": True,
    }
    assert {name: p for name, p in found.items() if p} == {
        "neutron_dhcp_agent": neutron,
        "neutron_l3_agent": neutron,
        "neutron_linuxbridge_agent": {"cap_add": neutron["cap_add"]},
        "nova_compute": {
            "cap_add": ["NET_ADMIN", "SYS_ADMIN"],
            "security_opt": ["apparmor=unconfined"],
            "init": True,
        },
        "nova_libvirt": {
            "cap_add": ["NET_ADMIN"],
            "devices": ["/dev/net/tun:/dev/net/tun:rwm"],
            "init": True,
        },
    }
    everything = replace(node, containers=(_everything(node),))
    assert _compose_privileges(everything)["nova_libvirt"] == {
        "cap_add": ["NET_ADMIN", "SYS_ADMIN"],
        "cap_drop": ["NET_RAW", "MKNOD"],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "devices": ["/dev/net/tun:/dev/net/tun:rwm", "/dev/kvm:/dev/kvm:rwm"],
        "pid": "host",
        "ipc": "host",
        "init": True,
    }


def _k8s_privileges(node: NodeSpecs) -> dict[str, dict[str, Any]]:
    objects = manifests({"localhost": node}, load_services(), TOPOLOGY, []).objects
    found = {}
    for obj in objects.values():
        if obj["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        pod = obj["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        devices = [v for v in pod["volumes"] if v.get("hostPath", {}).get("type") == "CharDevice"]
        names = {v["name"] for v in devices}
        found[obj["metadata"]["name"]] = {
            "securityContext": container["securityContext"],
            "pod": {k: pod[k] for k in ("hostPID", "hostIPC") if k in pod},
            "devices": devices,
            "mounts": [m for m in container["volumeMounts"] if m["name"] in names],
        }
    return found


def test_kubernetes_privileges_are_pinned(node: NodeSpecs) -> None:
    found = _k8s_privileges(node)
    plain = {"securityContext": {"privileged": False}, "pod": {}, "devices": [], "mounts": []}
    unconfined = {"type": "Unconfined"}
    neutron = {
        "privileged": False,
        "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]},
        "appArmorProfile": unconfined,
    }
    assert {name: p for name, p in found.items() if p != plain} == {
        "neutron-dhcp-agent": {**plain, "securityContext": neutron},
        "neutron-l3-agent": {**plain, "securityContext": neutron},
        "neutron-linuxbridge-agent": {
            **plain,
            "securityContext": {"privileged": False, "capabilities": neutron["capabilities"]},
        },
        "nova-compute": {
            **plain,
            "securityContext": {
                "privileged": False,
                "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]},
                "appArmorProfile": unconfined,
            },
        },
        "nova-libvirt": {
            "securityContext": {"privileged": False, "capabilities": {"add": ["NET_ADMIN"]}},
            "pod": {},
            "devices": [
                {"name": "dev-net-tun", "hostPath": {"path": "/dev/net/tun", "type": "CharDevice"}}
            ],
            "mounts": [{"name": "dev-net-tun", "mountPath": "/dev/net/tun"}],
        },
    }
    everything = replace(node, containers=(_everything(node),))
    assert _k8s_privileges(everything)["nova-libvirt"] == {
        "securityContext": {
            "privileged": False,
            "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"], "drop": ["NET_RAW", "MKNOD"]},
            "seccompProfile": unconfined,
            "appArmorProfile": unconfined,
        },
        "pod": {"hostPID": True, "hostIPC": True},
        "devices": [
            {"name": "dev-net-tun", "hostPath": {"path": "/dev/net/tun", "type": "CharDevice"}},
            {"name": "dev-kvm", "hostPath": {"path": "/dev/kvm", "type": "CharDevice"}},
        ],
        "mounts": [
            {"name": "dev-net-tun", "mountPath": "/dev/net/tun"},
            {"name": "dev-kvm", "mountPath": "/dev/kvm"},
        ],
    }
