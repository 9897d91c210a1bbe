"""``colla audit``'s comparison: desired specs and recorded inspect data in, findings out."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from colla.catalog import load_services
from colla.deploy.audit import STRAY, Inspected, audit, root_on_host
from colla.deploy.desired import desired_state
from colla.deploy.executor import container_request
from colla.engine import Grants
from colla.model.specs import ContainerSpec, NodeSpecs
from colla.model.topology import Topology
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")
IMAGE = "sha256:" + "a" * 64

Inspect = dict[str, Any]


@pytest.fixture
def nodes(example_config: Path) -> dict[str, NodeSpecs]:
    catalog = load_services()
    specs = desired_state(load_project(example_config, catalog), catalog, TOPOLOGY)
    node = specs["localhost"]
    pinned = tuple(replace(c, image_id=IMAGE) for c in node.containers)
    return {"localhost": replace(node, containers=pinned)}


def _spec(nodes: dict[str, NodeSpecs], name: str) -> ContainerSpec:
    return next(c for c in nodes["localhost"].containers if c.name == name)


def inspect_of(spec: ContainerSpec) -> Inspect:
    """What ``docker container inspect`` says of the container colla creates for ``spec``
    (the fields the audit reads, in the engine's own spelling)."""
    request = container_request(spec)
    granted = request.privileges
    mounts = [
        {"Type": "volume", "Name": name, "Destination": path, "RW": True}
        for name, path in request.volumes.items()
    ]
    mounts += [
        {"Type": "bind", "Source": host, "Destination": target.split(":")[0], "RW": False}
        for host, target in request.binds.items()
    ]
    # An image's VOLUME: anonymous, holds data, never a host path.
    mounts.append({"Type": "volume", "Name": "f" * 64, "Destination": "/data", "RW": True})
    return {
        "Image": spec.image_id,
        "Config": {"User": "", "Labels": spec.labels()},
        "Mounts": mounts,
        "HostConfig": {
            "NetworkMode": request.network,
            "Privileged": False,
            "CapAdd": list(granted.cap_add) or None,
            "CapDrop": list(granted.cap_drop) or None,
            "SecurityOpt": list(granted.security_opt) or None,
            "Devices": [
                {"PathOnHost": d, "PathInContainer": d, "CgroupPermissions": "rwm"}
                for d in granted.devices
            ],
            "PidMode": granted.pid_mode or "",
            "IpcMode": granted.ipc_mode or "private",
            "Init": granted.init or None,
            "UTSMode": "",
            "UsernsMode": "",
            "CgroupnsMode": "private",
            "Sysctls": None,
            "DeviceCgroupRules": None,
        },
    }


def _as_running(
    nodes: dict[str, NodeSpecs], edit: Callable[[str, Inspect], None] | None = None
) -> dict[tuple[str, str], Grants | None]:
    running: dict[tuple[str, str], Grants | None] = {}
    for spec in nodes["localhost"].containers:
        data = copy.deepcopy(inspect_of(spec))
        if edit is not None:
            edit(spec.name, data)
        running[("localhost", spec.name)] = Grants.from_inspect(data)
    return running


def test_containers_as_colla_creates_them_are_as_declared(nodes: dict[str, NodeSpecs]) -> None:
    rows = {r.container: r for r in audit(nodes, Inspected(_as_running(nodes)))}
    assert all(r.ok and r.running == "as declared" for r in rows.values()), rows
    assert rows["keystone"].granted == ("network host",)
    assert rows["keystone"].root_on_host == ()


def _host(data: Inspect) -> dict[str, Any]:
    host: dict[str, Any] = data["HostConfig"]
    return host


def _bind(source: str, target: str, rw: bool) -> Callable[[Inspect], None]:
    def edit(data: Inspect) -> None:
        data["Mounts"].append({"Type": "bind", "Source": source, "Destination": target, "RW": rw})

    return edit


EDITS: dict[str, tuple[Callable[[Inspect], None], str]] = {
    "bind-root": (_bind("/", "/host", True), "+bind /:/host:rw"),
    "docker-socket": (
        _bind("/var/run/docker.sock", "/var/run/docker.sock", True),
        "+bind /var/run/docker.sock:/var/run/docker.sock:rw",
    ),
    "config-writable": (
        lambda d: d["Mounts"][-2].update(RW=True),
        "-bind ",
    ),
    "user": (lambda d: d["Config"].update(User="nobody"), "+user nobody"),
    "userns-host": (lambda d: _host(d).update(UsernsMode="host"), "+userns host"),
    "cgroupns-host": (lambda d: _host(d).update(CgroupnsMode="host"), "+cgroupns host"),
    "uts-host": (lambda d: _host(d).update(UTSMode="host"), "+uts host"),
    "network-container": (
        lambda d: _host(d).update(NetworkMode="container:x"),
        "+network container:x",
    ),
    "pid-container": (lambda d: _host(d).update(PidMode="container:x"), "+pid container:x"),
    "ipc-host": (lambda d: _host(d).update(IpcMode="host"), "+ipc host"),
    "sysctl": (
        lambda d: _host(d).update(Sysctls={"net.ipv4.ip_forward": "1"}),
        "+sysctl net.ipv4.ip_forward=1",
    ),
    "device-cgroup-rule": (
        lambda d: _host(d).update(DeviceCgroupRules=["c 1:* rwm"]),
        "+device_cgroup_rule c 1:* rwm",
    ),
    "image": (lambda d: d.update(Image="sha256:" + "b" * 64), "+image sha256:bbb"),
    "privileged": (lambda d: _host(d).update(Privileged=True), "+privileged"),
    "init": (lambda d: _host(d).update(Init=True), "+init"),
    "unmasked": (lambda d: _host(d).update(ReadonlyPaths=[]), "+security_opt systempaths"),
    "volume": (
        lambda d: d["Mounts"].append({"Type": "volume", "Name": "mine", "Destination": "/x"}),
        "+volume mine:/x",
    ),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_every_kind_of_drift_is_found(nodes: dict[str, NodeSpecs], case: str) -> None:
    edit, expected = EDITS[case]

    def only_keystone(name: str, data: Inspect) -> None:
        if name == "keystone":
            edit(data)

    rows = {r.container: r for r in audit(nodes, Inspected(_as_running(nodes, only_keystone)))}
    assert not rows["keystone"].ok
    assert expected in rows["keystone"].running, rows["keystone"].running
    assert all(r.ok for name, r in rows.items() if name != "keystone")


def test_a_dropped_cap_drop_is_drift(nodes: dict[str, NodeSpecs]) -> None:
    keystone = _spec(nodes, "keystone")
    privileges = replace(keystone.privileges, cap_drop=("NET_RAW",))
    nodes["localhost"] = replace(
        nodes["localhost"], containers=(replace(keystone, privileges=privileges),)
    )
    data = inspect_of(nodes["localhost"].containers[0])
    assert audit(nodes, Inspected({("localhost", "keystone"): Grants.from_inspect(data)}))[0].ok
    _host(data)["CapDrop"] = None
    row = audit(nodes, Inspected({("localhost", "keystone"): Grants.from_inspect(data)}))[0]
    assert "-cap_drop NET_RAW" in row.running


def test_a_container_without_its_declared_init_is_drift(nodes: dict[str, NodeSpecs]) -> None:
    def no_init(name: str, data: Inspect) -> None:
        if name == "nova_compute":
            _host(data)["Init"] = None

    rows = {r.container: r for r in audit(nodes, Inspected(_as_running(nodes, no_init)))}
    assert rows["nova_compute"].running == "differs: -init"


def test_the_hosts_cgroup_namespace_is_no_drift_where_it_is_dockers_default(
    nodes: dict[str, NodeSpecs],
) -> None:
    def v1(name: str, data: Inspect) -> None:
        _host(data)["CgroupnsMode"] = "host"

    inspected = Inspected(_as_running(nodes, v1), cgroupns_default={"localhost": "host"})
    assert all(r.ok for r in audit(nodes, inspected))


def test_strays_are_reported_with_their_grants(nodes: dict[str, NodeSpecs]) -> None:
    compute = inspect_of(_spec(nodes, "nova_compute"))
    strays = {
        ("localhost", "nova_compute-colla-next"): ("nova_compute", Grants.from_inspect(compute)),
        ("localhost", "horizon"): (
            "horizon",
            Grants.from_inspect(inspect_of(_spec(nodes, "horizon"))),
        ),
    }
    rows = audit(nodes, Inspected(_as_running(nodes), strays))
    found = {r.container: r for r in rows if r.running == STRAY}
    assert set(found) == {"nova_compute-colla-next", "horizon"}
    assert not any(r.ok for r in found.values())
    assert "cap_add SYS_ADMIN" in found["nova_compute-colla-next"].granted
    assert found["nova_compute-colla-next"].root_on_host


def test_a_missing_container_is_judged_by_its_declared_grants(nodes: dict[str, NodeSpecs]) -> None:
    rows = {r.container: r for r in audit(nodes, Inspected({}))}
    assert rows["keystone"].running == "not created" and rows["keystone"].ok
    assert rows["nova_compute"].root_on_host


def test_which_catalog_containers_are_root_on_their_host(nodes: dict[str, NodeSpecs]) -> None:
    rows = audit(nodes, Inspected(_as_running(nodes)))
    root = {r.container: r.root_on_host for r in rows if r.root_on_host}
    # Said plainly, as in the README: these grants let the container take the host.
    assert set(root) == {"nova_compute", "neutron_dhcp_agent", "neutron_l3_agent"}
    assert any(w.startswith("SYS_ADMIN without AppArmor") for w in root["nova_compute"])


def test_no_container_holds_a_grant_its_privsep_daemon_does_not_keep(
    nodes: dict[str, NodeSpecs],
) -> None:
    # DAC_READ_SEARCH (any host file by handle) and SYS_PTRACE were granted only because
    # nova's and neutron's default privsep contexts list them; the rendered config now
    # narrows those contexts, so no container is granted either.
    for specs in nodes.values():
        for spec in specs.containers:
            assert not {"DAC_READ_SEARCH", "SYS_PTRACE"} & set(spec.privileges.cap_add), spec.name
    files = {
        (s.name, f.name): f.content for n in nodes.values() for s in n.containers for f in s.files
    }
    for agent in ("neutron_dhcp_agent", "neutron_l3_agent", "neutron_linuxbridge_agent"):
        assert "[privsep]\ncapabilities = 1,12,21\n" in files[(agent, "neutron.conf")]
    assert "[privsep]" not in files[("neutron_server", "neutron.conf")]
    compute = files[("nova_compute", "nova.conf")]
    assert "[nova_sys_admin]\ncapabilities = 0,1,3,12,21\n" in compute
    assert "[nova_dacnet_admin]\ncapabilities = 0,1,3,12\n" in compute
    assert "[nova_sys_admin]" not in files[("nova_api", "nova.conf")]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("privileged",), "privileged"),
        (("cap_add SYS_ADMIN", "security_opt apparmor=unconfined"), "SYS_ADMIN without AppArmor"),
        (("cap_add DAC_READ_SEARCH",), "DAC_READ_SEARCH"),
        (("cap_add SYS_PTRACE", "pid host"), "SYS_PTRACE with the host's PIDs"),
        (("cap_add SYS_MODULE",), "SYS_MODULE"),
        (("bind /:/host:ro",), "bind of the host's /"),
        (("bind /run/docker.sock:/s:ro",), "bind of the host's /run/docker.sock"),
        (("bind /etc/ssh:/e:rw",), "writable bind of the host's /etc/ssh"),
        (("device /dev/sda",), "raw device /dev/sda"),
    ],
)
def test_root_on_host(words: tuple[str, ...], expected: str) -> None:
    assert any(w.startswith(expected) for w in root_on_host(words)), root_on_host(words)


@pytest.mark.parametrize(
    "words",
    [
        ("cap_add SYS_ADMIN",),  # AppArmor still denies the mounts
        ("cap_add SYS_PTRACE",),  # its own PID namespace only
        ("cap_add NET_ADMIN", "device /dev/net/tun"),
        ("bind /etc/ssh:/e:ro",),
    ],
)
def test_not_root_on_host(words: tuple[str, ...]) -> None:
    assert root_on_host(words) == ()
