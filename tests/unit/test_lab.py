"""The lab's pure parts: addresses, the node container's privileges, its inventory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from colla.config.inventory import load_inventory
from colla.deploy.nodes import host_facts
from colla.engine.endpoint import endpoint_for
from colla.errors import BadInput
from colla.lab.files import (
    ensure_state_dir,
    held,
    inventory_text,
    remove_state,
    write_config,
)
from colla.lab.lab import node_request
from colla.lab.settings import lab_settings
from colla.outdir import MARKER


def test_addresses_come_from_the_subnet(tmp_path: Path) -> None:
    s = lab_settings(nodes=3, subnet="10.9.8.0/24", state_dir=tmp_path)
    assert s.node_names() == ["node1", "node2", "node3"]
    assert [s.node_address(n) for n in s.node_names()] == ["10.9.8.11", "10.9.8.12", "10.9.8.13"]
    assert s.docker_registry == "10.9.8.2:4000"
    assert (s.external_network, str(s.external_subnet)) == ("colla-lab-ext", "10.9.9.0/24")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nodes": 0}, "--nodes: Input should be greater than or equal to 1"),
        ({"nodes": 10}, "--nodes: Input should be less than or equal to 9"),
        ({"subnet": "10.0.0.0/30"}, "--subnet: Value error, expected a prefix from /16 to /27"),
        ({"subnet": "fe80::/64"}, "--subnet:"),
        ({"name": "Bad Name"}, "--name:"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_option(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    with pytest.raises(BadInput) as e:
        lab_settings(state_dir=tmp_path, **values)
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_a_node_gets_what_dockerd_needs_but_not_privileged(tmp_path: Path) -> None:
    s = lab_settings(state_dir=tmp_path)
    request = node_request(s, "node2")
    granted = request.privileges
    assert granted.cap_add == ("ALL",) and granted.cap_drop == ("SYS_RESOURCE",)
    assert set(granted.security_opt) == {"seccomp=unconfined", "apparmor=unconfined"}
    assert request.volumes == {"colla-lab-node2-docker": "/var/lib/docker"}
    assert request.binds["/sys/fs/cgroup"].startswith("/sys/fs/cgroup")
    assert (request.network, request.ip, request.hostname) == ("colla-lab", "10.213.42.12", "node2")
    assert request.labels == {"colla.lab": "colla-lab", "colla.lab.node": "node2"}
    assert "--insecure-registry=10.213.42.2:4000" in (request.command or ())


def test_the_inventory_reaches_each_node_over_ssh_with_the_labs_key(tmp_path: Path) -> None:
    s = lab_settings(nodes=3, state_dir=tmp_path)
    path = tmp_path / "inventory"
    path.write_text(inventory_text(s))
    inventory = load_inventory(path)
    assert inventory.groups["control"] == ("node1",)
    assert inventory.groups["network"] == ("node1",)
    assert inventory.groups["compute"] == ("node2", "node3")
    endpoint = endpoint_for(host_facts(inventory.hosts["node3"]), str(path))
    assert endpoint.url == "ssh://root@10.213.42.13:22"
    assert endpoint.key_file == str(tmp_path / "id_ed25519")
    assert endpoint.known_hosts == str(tmp_path / "known_hosts")


def _lab_files(state: Path) -> None:
    s = lab_settings(nodes=2, state_dir=state)
    ensure_state_dir(state)
    for name in ("id_ed25519", "id_ed25519.pub", "hostkeys/node1", "history.sqlite"):
        (state / name).parent.mkdir(parents=True, exist_ok=True)
        (state / name).write_text("x")
    write_config(s)


def test_lab_down_removes_its_state_and_the_directory_it_made(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _lab_files(state)
    assert remove_state(state) == []
    assert not state.exists()


def test_lab_down_leaves_a_foreign_file_and_its_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _lab_files(state)
    (state / "notes.txt").write_text("mine")
    (state / "hostkeys" / "extra").write_text("mine too")
    assert remove_state(state) == ["hostkeys", "hostkeys/extra", "notes.txt"]
    assert sorted(str(p.relative_to(state)) for p in state.rglob("*")) == [
        MARKER,
        "hostkeys",
        "hostkeys/extra",
        "notes.txt",
    ]
    # Still the lab's: a later up may use it again.
    ensure_state_dir(state)


@pytest.mark.parametrize("action", [ensure_state_dir, remove_state])
def test_a_state_dir_the_lab_did_not_make_is_refused(tmp_path: Path, action: Any) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "inventory").write_text("[control]\nmy-own-host\n")
    with pytest.raises(BadInput, match=r"--state-dir .*home: not empty and not made by colla"):
        action(home)
    assert [p.name for p in home.iterdir()] == ["inventory"]


def test_a_state_dir_from_before_markers_is_still_the_labs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "inventory").write_text(inventory_text(lab_settings(state_dir=state)))
    ensure_state_dir(state)
    assert remove_state(state) == []
    assert not state.exists()


def test_lab_commands_lock_a_new_state_dir_and_still_own_it(tmp_path: Path) -> None:
    new = tmp_path / "new"
    with held(new):
        # What `up` and `down` do inside the lock: the lock file is not foreign.
        ensure_state_dir(new)
        assert remove_state(new) == []
    assert not new.exists()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x").write_text("x")
    with pytest.raises(BadInput, match="not made by colla"), held(tmp_path / "foreign"):
        pass
    assert [p.name for p in (tmp_path / "foreign").iterdir()] == ["x"]


NODE_SCRIPT = Path(__file__).parents[2] / "colla/catalog/images/lab-node/colla-lab-node"


def test_a_restarted_node_starts_dockerd_with_an_empty_run(tmp_path: Path) -> None:
    """A node killed and started again keeps its filesystem, containerd's task
    directories included; dockerd then refuses to start those containers again."""
    root = tmp_path / "root"
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("key\n")
    (root / "usr/sbin").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    for program, path in (("sshd", root / "usr/sbin/sshd"), ("dockerd", bin_dir / "dockerd")):
        path.write_text(f'#!/bin/sh\necho {program} "$@" >> {log}\n')
        path.chmod(0o755)
    stale = root / "var/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/abc"
    stale.mkdir(parents=True)
    (root / "var/run/docker.pid").write_text("42\n")
    (root / "run/containerd").mkdir(parents=True)
    env = {**os.environ, "COLLA_LAB_ROOT": str(root), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["sh", str(NODE_SCRIPT), "--host=unix:///x"], env=env, check=True)
    assert not (root / "var/run/docker").exists()
    assert not (root / "var/run/docker.pid").exists()
    assert not (root / "run/containerd").exists()
    assert (root / "run/sshd").is_dir()
    assert log.read_text().splitlines() == ["sshd -e", "dockerd --host=unix:///x"]
