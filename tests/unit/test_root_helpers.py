"""Privileged commands start with sudo alone, and only in containers that run as root.

neutron's agents and nova-compute used to start each privileged command and privsep
daemon through rootwrap, a Python start each, whose filters restricted nothing in a
container that runs as root. Plain sudo is right only there: a container given network
privileges that ran as another user would need rootwrap's sudoers entry back.
"""

from __future__ import annotations

from pathlib import Path

from colla.catalog import load_services
from colla.deploy.desired import desired_state
from colla.model.specs import NodeSpecs
from colla.model.topology import Topology
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")
PLAIN_SUDO = ("root_helper = sudo\n", "disable_rootwrap = true\n")


def _node(config_dir: Path) -> NodeSpecs:
    catalog = load_services()
    return desired_state(load_project(config_dir, catalog), catalog, TOPOLOGY)["localhost"]


def test_the_privileged_containers_use_plain_sudo_and_run_as_root(example_config: Path) -> None:
    users = {c.name: c.user for s in load_services().services.values() for c in s.containers}
    plain = set()
    for spec in _node(example_config).containers:
        text = "".join(f.content for f in spec.files)
        # A container with grants beyond Docker's runs privileged commands: with plain
        # sudo it must be root (neutron-server and the metadata agent run none).
        if spec.privileges.cap_add and any(line in text for line in PLAIN_SUDO):
            assert users[spec.name] == "root", spec.name
            plain.add(spec.name)
    assert {"neutron_dhcp_agent", "neutron_l3_agent", "neutron_linuxbridge_agent"} <= plain
    assert "nova_compute" in plain
