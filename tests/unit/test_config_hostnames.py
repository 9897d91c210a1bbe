"""Inventory host names and addresses are checked as host names and addresses when the
inventory is loaded, naming file and line; export paths never leave their directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.config.inventory import load_inventory
from colla.errors import BadInput
from colla.export.output import OutFile, write_tree


def _load(tmp_path: Path, text: str, name: str = "inventory") -> None:
    path = tmp_path / name
    path.write_text(text)
    load_inventory(path)


@pytest.mark.parametrize(
    "line",
    [
        "../../tmp/x",
        "..",
        "a/b",
        "-node",
        "node-",
        "node_1",
        "a..b",
        "x" * 64,
        "nöde",
        "node1.",
    ],
)
def test_a_bad_host_name_is_refused_naming_the_line(tmp_path: Path, line: str) -> None:
    with pytest.raises(BadInput, match=r"inventory:3: host name .* is not a valid host name"):
        _load(tmp_path, f"# hosts\n[control]\n{line} ansible_host=10.0.0.1\n")


@pytest.mark.parametrize(
    "address",
    [
        "$(touch${IFS}/tmp/pwned)",
        "`id`",
        "10.0.0.1;id",
        "a b",
        "10.0.0.1/24",
        "[::1]",
        "-oProxyCommand=x",
    ],
)
def test_a_bad_ansible_host_is_refused_naming_the_line(tmp_path: Path, address: str) -> None:
    line = f"node1 ansible_host='{address}'"
    with pytest.raises(
        BadInput, match=r"inventory:2: ansible_host: expected an IP address or a host"
    ):
        _load(tmp_path, f"[control]\n{line}\n")


def test_a_bad_ansible_host_in_group_vars_or_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"inventory:4: ansible_host"):
        _load(tmp_path, "[control]\nnode1\n[control:vars]\nansible_host = $(id)\n")
    yaml_text = "control:\n  hosts:\n    node1:\n      ansible_host: $(id)\n"
    with pytest.raises(BadInput, match=r"hosts.yml: host 'node1': ansible_host"):
        _load(tmp_path, yaml_text, "hosts.yml")
    with pytest.raises(BadInput, match=r"hosts.yml: host '../x': host name"):
        _load(tmp_path, "control:\n  hosts:\n    ../x:\n", "hosts.yml")


def test_good_names_and_addresses_load(tmp_path: Path) -> None:
    path = tmp_path / "inventory"
    path.write_text(
        "[control]\nnode-1.example.com ansible_host=192.0.2.10\nnode2 ansible_host=2001:db8::2\n"
        "node3 ansible_host=node3.lan.\nlocalhost ansible_connection=local\nNODE[01:02]\n"
    )
    inventory = load_inventory(path)
    assert inventory.hosts["node2"].address == "2001:db8::2"
    assert inventory.hosts["node3"].address == "node3.lan."
    assert inventory.hosts["NODE01"].address == "NODE01"


@pytest.mark.parametrize("relative", ["../x/docker-compose.yml", "/tmp/x", "a/../../b", "."])
def test_an_export_path_never_leaves_the_output_directory(tmp_path: Path, relative: str) -> None:
    target = tmp_path / "out"
    with pytest.raises(BadInput, match="would be written outside it"):
        write_tree(target, {relative: OutFile(b"x")}, "colla compose")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
