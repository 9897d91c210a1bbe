"""Inventories: kolla-ansible's INI format and Ansible's YAML format, groups and host vars."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from colla.config.inventory import (
    AIO_INVENTORY_TEXT,
    GROUPS,
    Host,
    Inventory,
    all_in_one,
    load_inventory,
)
from colla.errors import BadInput

# Shaped like kolla-ansible's ansible/inventory/multinode, cut down.
MULTINODE = """\
# These initial groups are the only groups required to be modified. The
# additional groups are for more control of the environment.
[control]
# These hostname must be resolvable from your deployment host
control[01:03] api_interface=eth1

[network]
network01
control01 network_interface=eth0

[compute]
compute01 neutron_external_interface=eth4 network_interface=eth3
compute02 ansible_host=10.0.0.32 ansible_port=2222 ansible_user=root

[monitoring]
monitoring01

; storage nodes share a rack
[storage]
storage01 ansible_ssh_host=10.0.0.41 ansible_ssh_private_key_file=/root/.ssh/storage

[deployment]
localhost       ansible_connection=local

[baremetal:children]
control
network
compute
storage
monitoring

[common:children]
baremetal

[all:vars]
ansible_user=kolla
ansible_become=true

[baremetal:vars]
network_interface = eth9

[compute:vars]
network_interface = "eth2"

[mariadb:children]
control

[keystone:children]
control

[glance:children]
control

# Glance
[glance-api:children]
glance

# iSCSI; a child group may be defined further down
[iscsid:children]
compute
storage
ironic-conductor

[ironic-conductor:children]
control
"""

YAML_INVENTORY = """\
all:
  vars:
    ansible_user: kolla
  hosts:
    spare01:
  children:
    control:
      hosts:
        node1:
          ansible_host: 10.0.0.1
          ansible_port: 22
          api_interface: eth1
          enable_debug: true
    compute:
      vars:
        network_interface: eth2
      hosts:
        node[2:3]:
      children:
        gpu:
          hosts:
            gpu1: {network_interface: eth5}
"""


def _write(tmp_path: Path, text: str, name: str = "multinode") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_kolla_multinode_ini(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, MULTINODE))
    assert sorted(inv.hosts) == [
        "compute01",
        "compute02",
        "control01",
        "control02",
        "control03",
        "localhost",
        "monitoring01",
        "network01",
        "storage01",
    ]
    names = ("control01", "control02", "control03")
    assert tuple(h.name for h in inv.hosts_in("control")) == names
    # glance-api → glance → control: children resolve transitively.
    assert inv.groups["glance-api"] == names
    assert len(inv.groups["common"]) == 8
    assert inv.groups["iscsid"] == ("compute01", "compute02", *names, "storage01")
    assert inv.groups_of("control01") == (
        "baremetal",
        "common",
        "control",
        "glance",
        "glance-api",
        "ironic-conductor",
        "iscsid",
        "keystone",
        "mariadb",
        "network",
    )
    assert inv.groups_of("localhost") == ("deployment",)
    assert inv.hosts_in("nova") == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # host-line variables of two groups merged; group vars below them
        (
            "control01",
            Host(
                name="control01",
                address="control01",
                user="kolla",
                network_interface="eth0",
                api_interface="eth1",
                vars={"ansible_become": "true"},
            ),
        ),
        # a child group's vars (compute) win over its parent's (baremetal)
        (
            "compute02",
            Host(
                name="compute02",
                address="10.0.0.32",
                user="root",
                port=2222,
                network_interface="eth2",
                vars={"ansible_become": "true"},
            ),
        ),
        # the host line wins over every group
        (
            "compute01",
            Host(
                name="compute01",
                address="compute01",
                user="kolla",
                network_interface="eth3",
                vars={"ansible_become": "true", "neutron_external_interface": "eth4"},
            ),
        ),
        # the pre-2.0 Ansible names still work
        (
            "storage01",
            Host(
                name="storage01",
                address="10.0.0.41",
                user="kolla",
                network_interface="eth9",
                key_file="/root/.ssh/storage",
                vars={"ansible_become": "true"},
            ),
        ),
        (
            "localhost",
            Host(
                name="localhost",
                address="localhost",
                user="kolla",
                connection="local",
                vars={"ansible_become": "true"},
            ),
        ),
    ],
)
def test_kolla_multinode_host_vars(tmp_path: Path, name: str, expected: Host) -> None:
    assert load_inventory(_write(tmp_path, MULTINODE)).hosts[name] == expected


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("node[01:03]", ["node01", "node02", "node03"]),
        ("node[8:10]", ["node8", "node9", "node10"]),
        ("node[1:10:4]", ["node1", "node5", "node9"]),
        ("r[1:2]n[0:1].lab", ["r1n0.lab", "r1n1.lab", "r2n0.lab", "r2n1.lab"]),
        ("plain", ["plain"]),
    ],
)
def test_host_ranges(tmp_path: Path, pattern: str, names: list[str]) -> None:
    inv = load_inventory(_write(tmp_path, f"[control]\n{pattern} ansible_user=x\n"))
    assert [h.name for h in inv.hosts_in("control")] == sorted(names)
    assert all(h.user == "x" for h in inv.hosts.values())


def test_yaml_inventory(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, YAML_INVENTORY, "hosts.yml"))
    assert sorted(inv.groups) == ["compute", "control", "gpu"]
    assert inv.groups["compute"] == ("gpu1", "node2", "node3")
    assert inv.hosts["node1"] == Host(
        name="node1",
        address="10.0.0.1",
        user="kolla",
        port=22,
        api_interface="eth1",
        vars={"enable_debug": "true"},
    )
    assert inv.hosts["gpu1"].network_interface == "eth5"
    assert inv.hosts["node3"].network_interface == "eth2"
    assert inv.hosts["spare01"].user == "kolla"
    assert inv.groups_of("spare01") == ()


def test_yaml_inventory_without_all(tmp_path: Path) -> None:
    text = "control:\n  hosts:\n    c1:\ncompute:\n  children:\n    control:\n"
    inv = load_inventory(_write(tmp_path, text, "inventory.yaml"))
    assert inv.groups == {"control": ("c1",), "compute": ("c1",)}


def test_all_in_one_text_loads_as_all_in_one(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, AIO_INVENTORY_TEXT, "inventory"))
    assert inv == all_in_one()
    host = inv.hosts["localhost"]
    assert (host.address, host.connection) == ("127.0.0.1", "local")
    assert inv.groups_of("localhost") == tuple(sorted(GROUPS))
    assert AIO_INVENTORY_TEXT.startswith("#")


def test_inventory_value_is_frozen() -> None:
    inv: Inventory = all_in_one()
    with pytest.raises(AttributeError):
        inv.hosts = {}  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[control]\nc1\n[compute:children]\ncontrol\nnova\n",
            "multinode:5: group 'compute' has unknown child group 'nova'",
        ),
        ("[control]\nc1\n[control\n", "multinode:3: malformed section header"),
        ("[control]\nc1\n[control:hosts]\n", "multinode:3: malformed section header"),
        ("[control]\nc1 ansible_user\n", "multinode:2: expected key=value after the host name"),
        ("[control]\nc1 =x\n", "multinode:2: expected key=value"),
        ("[control]\nansible_user=x\n", "multinode:2: expected a host name"),
        ("[control]\nc1 ansible_user='x\n", "multinode:2: cannot parse host line"),
        ("[control]\nc1 ansible_port=ssh\n", "multinode:2: ansible_port: expected a port number"),
        ("[control]\nc1 ansible_port=0\n", "multinode:2: ansible_port"),
        ("[control]\nc1 ansible_port=70000\n", "multinode:2: ansible_port"),
        ("[control]\nc1\n[control:vars]\nansible_port = x\n", "multinode:4: ansible_port"),
        ("[control]\nc1\n[control:vars]\njust_a_key\n", "multinode:4: expected 'key = value'"),
        ("[control]\nc1\n[x:children]\na b\n", "multinode:4: expected one group name"),
        ("[control]\nc1\n[nova:vars]\na=1\n", r"multinode:3: \[nova:vars\] names no defined group"),
        ("[control]\nnode[a:c]\n", r"multinode:2: host range \[a:c\]: only numeric"),
        ("[control]\nnode[3:1]\n", r"multinode:2: host range \[3:1\] is empty"),
        (
            "[a:children]\nb\n[b:children]\na\n[control]\nc1\n",
            "multinode:4: group children form a cycle: a -> b -> a",
        ),
        ("[a:children]\na\n[control]\nc1\n", "multinode:2: group children form a cycle: a -> a"),
        ("[compute]\nc1\n", "multinode: no host in group 'control'"),
        ("[control]\n", "multinode: no host in group 'control'"),
        ("", "multinode: no host in group 'control'"),
    ],
)
def test_bad_ini_inventory(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(BadInput, match=message) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("control: [c1]\n", "group 'control': expected a mapping with hosts, children or vars"),
        ("control:\n  host:\n    c1:\n", "group 'control': unknown key 'host'"),
        ("control:\n  hosts: [c1]\n", "group 'control': hosts: expected a mapping"),
        ("control:\n  hosts:\n    c1: {ansible_port: ssh}\n", "host 'c1': ansible_port"),
        ("control:\n  hosts:\n    c1: {x: [1]}\n", "host 'c1': variable 'x': colla reads only"),
        ("control:\n  vars: {x: {a: 1}}\n", "group 'control': variable 'x'"),
        ("compute:\n  hosts:\n    c1:\n", "no host in group 'control'"),
        # A recursive alias is refused by the YAML reader itself, at its line.
        ("control: &a\n  children:\n    loop: *a\n", r"hosts\.yml:3: an alias refers to the node"),
        (
            "control:\n  children:\n    control: {}\n",
            "group 'control': group children form a cycle",
        ),
        ("control:\n  hosts: {c1: }\n  x: [\n", r"hosts\.yml:\d+: malformed YAML"),
    ],
)
def test_bad_yaml_inventory(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text, "hosts.yml")
    with pytest.raises(BadInput, match=message) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}")


def test_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=re.escape(f"{tmp_path / 'inventory'}: no such file")):
        load_inventory(tmp_path / "inventory")


def test_host_before_any_section_is_in_no_group(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, "spare ansible_host=10.0.0.9\n[control]\nc1\n"))
    assert inv.hosts["spare"].address == "10.0.0.9"
    assert inv.groups_of("spare") == ()
    assert inv.groups == {"control": ("c1",)}
