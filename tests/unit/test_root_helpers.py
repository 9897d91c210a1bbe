"""Privileged commands start with sudo alone, and only in containers that run as root.

neutron's agents and nova-compute used to start each privileged command and privsep
daemon through rootwrap, a Python start each, whose filters restricted nothing in a
container that runs as root. Plain sudo is right only there: a container given network
privileges that ran as another user would need rootwrap's sudoers entry back.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from colla.catalog import load_services
from colla.config.example import write_example
from colla.deploy.desired import desired_state
from colla.model.topology import Topology
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")
PLAIN_SUDO = ("root_helper = sudo\n", "disable_rootwrap = true\n")


def _contents(tmp_path: Path) -> dict[str, str]:
    catalog = load_services()
    write_example(tmp_path, catalog.defaults())
    keys = catalog.required_passwords(set(catalog.services))
    (tmp_path / "passwords.yml").write_text(yaml.safe_dump({k: "x" for k in keys}))
    node = desired_state(load_project(tmp_path, catalog), catalog, TOPOLOGY)["localhost"]
    return {c.name: "".join(f.content for f in c.files) for c in node.containers}


def test_the_privileged_containers_use_plain_sudo_and_run_as_root(tmp_path: Path) -> None:
    contents = _contents(tmp_path)
    users = {c.name: c.user for s in load_services().services.values() for c in s.containers}
    privileged = {"neutron_dhcp_agent", "neutron_l3_agent", "neutron_linuxbridge_agent"}
    for name in (*privileged, "nova_compute"):
        assert any(line in contents[name] for line in PLAIN_SUDO), name
        assert users[name] == "root", name
