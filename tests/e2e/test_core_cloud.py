"""The core cloud, end to end: bad input first, then deploy, use, redeploy, destroy.

Tests run in file order and share one deployment; each says what it leaves behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from colla.cli.app import run
from colla.engine import Engine
from colla.errors import ExitStatus
from colla.model.specs import LABEL_MANAGED
from tests.e2e.conftest import assert_edit_refused, assert_refused, engine_state, openstack
from tests.janitor import SUITE_VOLUME_PREFIX

pytestmark = pytest.mark.e2e

CORE = {
    "mariadb",
    "memcached",
    "rabbitmq",
    "keystone",
    "glance_api",
    "placement_api",
    "nova_api",
    "nova_metadata",
    "nova_scheduler",
    "nova_conductor",
    "nova_novncproxy",
    "nova_compute",
    "nova_libvirt",
    "neutron_server",
    "neutron_linuxbridge_agent",
    "neutron_dhcp_agent",
    "neutron_l3_agent",
    "neutron_metadata_agent",
    "horizon",
}
PROJECT = "colla-e2e"


def _started(engine: Engine) -> dict[str, str]:
    return {c.name: c.started_at for c in engine.containers(f"{LABEL_MANAGED}=true")}


def test_start_from_an_engine_without_colla_containers(engine: Engine, config_dir: Path) -> None:
    # Volumes are kept (an operator's cloud keeps its data); the suite's are new.
    assert run(["destroy", "--yes-i-really-mean-it", "-c", str(config_dir)]) == 0
    assert _started(engine) == {}


def test_destroy_volumes_removes_this_clouds_volumes_only(engine: Engine, config_dir: Path) -> None:
    # Another cloud on the same engine, under prefix colla-suite-other- (the janitor's
    # prefix, so a killed run leaves nothing behind), and this cloud's own volume.
    other, ours = f"{SUITE_VOLUME_PREFIX}other-mariadb", f"{SUITE_VOLUME_PREFIX}mariadb"
    for name in (other, ours):
        engine.create_volume(name, {LABEL_MANAGED: "true"})
    try:
        destroy = ["destroy", "--volumes", "--yes-i-really-mean-it", "-c", str(config_dir)]
        assert run(destroy) == 0
        left = engine.all_volumes()
        assert ours not in left and other in left
    finally:
        engine.remove_volume(other)


@pytest.fixture
def veth() -> Iterator[str]:
    """An interface that exists but has no address."""
    subprocess.run(
        ["ip", "link", "add", "colla-e2e0", "type", "veth", "peer", "name", "colla-e2e1"],
        check=True,
    )
    try:
        yield "colla-e2e0"
    finally:
        subprocess.run(["ip", "link", "del", "colla-e2e0"], check=False)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


BAD_INPUTS: dict[str, tuple[Callable[[Path], object], str]] = {
    "malformed yaml": (
        lambda d: _edit(d / "globals.yml", 'openstack_release: "zed"', "openstack_release: [zed"),
        r"globals.yml:\d+: malformed YAML",
    ),
    "unknown key": (
        lambda d: (d / "globals.yml").write_text(
            (d / "globals.yml").read_text() + "colour: blue\n"
        ),
        "globals.yml: unknown key 'colour'",
    ),
    "wrong type": (
        lambda d: (d / "globals.yml").write_text(
            (d / "globals.yml").read_text() + "colla_health_timeout: soon\n"
        ),
        "key 'colla_health_timeout': expected an integer",
    ),
    "missing password": (
        lambda d: (d / "passwords.yml").write_text(
            yaml.safe_dump(
                {
                    k: v
                    for k, v in yaml.safe_load((d / "passwords.yml").read_text()).items()
                    if k != "keystone_admin_password"
                }
            )
        ),
        "missing password 'keystone_admin_password'",
    ),
    "unknown service": (
        lambda d: (d / "globals.yml").write_text(
            (d / "globals.yml").read_text() + "enable_zun: true\n"
        ),
        "key 'enable_zun': colla does not know service 'zun'",
    ),
    "no control host": (
        lambda d: (d / "inventory").write_text("[compute]\nlocalhost ansible_connection=local\n"),
        "no host in group 'control'",
    ),
    "missing interface": (
        lambda d: _edit(d / "globals.yml", 'network_interface: "lo"', 'network_interface: "nope0"'),
        "'nope0' does not exist on this machine",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_changes_nothing(
    case: str,
    engine: Engine,
    config_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mutate, message = BAD_INPUTS[case]
    assert_edit_refused(engine, config_dir, tmp_path / "config", mutate, message, capsys)


def test_interface_without_address(
    engine: Engine, config_dir: Path, tmp_path: Path, veth: str, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "config"
    shutil.copytree(config_dir, work)
    _edit(work / "globals.yml", 'network_interface: "lo"', f'network_interface: "{veth}"')
    assert_refused(engine, ["deploy", "-c", str(work)], f"'{veth}' has no IPv4 address", capsys)


def test_port_in_use(
    engine: Engine, config_dir: Path, listener: int, capsys: pytest.CaptureFixture[str]
) -> None:
    message = (
        rf"127.0.0.1:{listener} needed by memcached is already in use by \S+ \(pid {os.getpid()}\)"
    )
    assert_refused(engine, ["deploy", "-c", str(config_dir)], message, capsys)


def test_engine_that_does_not_answer(
    engine: Engine,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/colla-no-engine.sock")
    before = engine_state(engine)
    assert run(["deploy", "-c", str(config_dir)]) == ExitStatus.ENGINE
    err = capsys.readouterr().err
    assert "no Docker engine answers" in err and len(err.strip().splitlines()) == 1
    monkeypatch.delenv("DOCKER_HOST")
    assert engine_state(engine) == before


def test_deploy_the_core_cloud(engine: Engine, config_dir: Path) -> None:
    assert run(["deploy", "-c", str(config_dir)]) == 0
    assert run(["post-deploy", "-c", str(config_dir)]) == 0
    containers = {c.name: c for c in engine.containers(f"{LABEL_MANAGED}=true")}
    assert set(containers) == CORE
    assert {c.health for c in containers.values()} == {"healthy"}
    for name in ("admin-openrc.sh", "clouds.yaml", "passwords.yml"):
        assert (config_dir / name).stat().st_mode & 0o777 == 0o600
    keystone_dir = config_dir / "keystone"
    assert keystone_dir.stat().st_mode & 0o777 == 0o770
    assert (keystone_dir / "keystone.conf").stat().st_mode & 0o777 == 0o660


def test_the_real_client_uses_the_cloud(config_dir: Path, tmp_path: Path) -> None:
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()
    services = json.loads(openstack(config_dir, "service", "list", "-f", "json"))
    assert {s["Name"] for s in services} >= {"keystone", "glance", "placement"}
    openstack(config_dir, "project", "create", "--or-show", "--domain", "default", PROJECT)
    openstack(
        config_dir,
        "user",
        "create",
        "--or-show",
        "--domain",
        "default",
        "--project",
        PROJECT,
        "--password",
        "e2e-user-password",
        f"{PROJECT}-user",
    )
    data = os.urandom(2 * 1024 * 1024)
    source = tmp_path / "image.raw"
    source.write_bytes(data)
    # Always a fresh upload: an image kept in the volumes by an earlier run proves nothing.
    for old in json.loads(openstack(config_dir, "image", "list", "--name", PROJECT, "-f", "json")):
        openstack(config_dir, "image", "delete", old["ID"])
    openstack(
        config_dir,
        *("image", "create", "--disk-format", "raw", "--container-format", "bare"),
        *("--file", str(source), PROJECT),
    )
    saved = tmp_path / "saved.raw"
    openstack(config_dir, "image", "save", "--file", str(saved), PROJECT)
    image = json.loads(openstack(config_dir, "image", "show", "-f", "json", PROJECT))
    assert image["status"] == "active"
    # Glance hashes what it stored (sha512 by default); the download must match it and
    # the bytes we sent.
    assert image["properties"]["os_hash_algo"] == "sha512"
    assert hashlib.sha512(saved.read_bytes()).hexdigest() == image["properties"]["os_hash_value"]
    assert saved.read_bytes() == data
    # nova-compute registers this host in Placement, with its CPUs as inventory.
    deadline = time.monotonic() + 120
    while not (
        providers := json.loads(openstack(config_dir, "resource", "provider", "list", "-f", "json"))
    ):
        assert time.monotonic() < deadline, "no resource provider registered"
        time.sleep(3)
    inventory = json.loads(
        openstack(
            config_dir,
            *("resource", "provider", "inventory", "list", providers[0]["uuid"], "-f", "json"),
        )
    )
    assert "VCPU" in {row["resource_class"] for row in inventory}, inventory
    classes = json.loads(
        openstack(
            config_dir,
            "--os-placement-api-version",
            "1.2",
            "resource",
            "class",
            "list",
            "-f",
            "json",
        )
    )
    assert "VCPU" in {c["name"] for c in classes}


def test_glance_serves_the_packaged_metadata_definitions(config_dir: Path) -> None:
    namespaces = json.loads(
        openstack(config_dir, "image", "metadef", "namespace", "list", "-f", "json")
    )
    names = {n["namespace"] for n in namespaces}
    # Debian's glance ships 33 files under /etc/glance/metadefs, CPU pinning among them.
    assert len(names) >= 30 and "OS::Compute::CPUPinning" in names, names


def test_check_talks_to_the_apis(
    engine: Engine, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["check", "-c", str(config_dir)]) == 0
    capsys.readouterr()
    # With Glance stopped, check must fail and say so: it asks the API, not the engine.
    engine.stop("glance_api")
    try:
        assert run(["check", "-c", str(config_dir)]) != 0
        out = capsys.readouterr().out
        assert re.search(r"FAIL\s+image upload/download", out), out
        assert re.search(r"ok\s+token", out), out
    finally:
        assert run(["deploy", "-c", str(config_dir)]) == 0
    assert run(["check", "-c", str(config_dir)]) == 0


def test_redeploy_changes_nothing(
    engine: Engine, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _started(engine)
    assert run(["deploy", "-c", str(config_dir)]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert _started(engine) == before


def test_an_override_recreates_only_its_container(engine: Engine, config_dir: Path) -> None:
    override = config_dir / "config" / "placement.conf"
    override.parent.mkdir(exist_ok=True)
    before = _started(engine)
    override.write_text("[DEFAULT]\ndebug = true\n")
    try:
        assert run(["deploy", "-c", str(config_dir)]) == 0
        after = _started(engine)
        assert {n for n in before if before[n] != after[n]} == {"placement_api"}
    finally:
        override.unlink()
    assert run(["deploy", "-c", str(config_dir)]) == 0


def test_status_logs_stop_and_start_again(
    engine: Engine, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["status", "--json", "-c", str(config_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["container"] for r in rows} == CORE
    assert {r["health"] for r in rows} == {"healthy"}
    assert run(["logs", "keystone", "--tail", "20", "-c", str(config_dir)]) == 0
    assert capsys.readouterr().out.strip()
    assert run(["stop", "memcached", "-c", str(config_dir)]) == 0
    stopped = engine.container("memcached")
    assert stopped is not None and stopped.state == "exited"
    assert run(["plan", "-c", str(config_dir)]) == 0
    # The plan's table row: memcached, its service, the action and (wrapped) its reason.
    plan = capsys.readouterr().out
    assert re.search(r"│ memcached\s+│ memcached\s+│ start\s+│ not running", plan), plan
    assert run(["deploy", "-c", str(config_dir)]) == 0
    started = engine.container("memcached")
    assert started is not None and started.state == "running" and started.health == "healthy"


def test_prechecks_pass_on_the_running_cloud_and_logs_follow(config_dir: Path) -> None:
    # colla's own containers hold the ports: prechecks must not count them as in use.
    assert run(["prechecks", "-c", str(config_dir)]) == 0
    colla = str(Path(sys.executable).parent / "colla")
    follow = subprocess.Popen(
        [colla, "logs", "keystone", "-f", "--tail", "1", "-c", str(config_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    # A request made after `logs -f` started: its line can only come from following.
    marker = f"colla-follow-{os.getpid()}"
    try:
        urllib.request.urlopen(f"http://127.0.0.1:5000/v3/{marker}", timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 404
    time.sleep(3)
    assert follow.poll() is None, "logs -f returned instead of following"
    follow.terminate()
    out, _ = follow.communicate(timeout=30)
    assert marker in out, out[-2000:]
