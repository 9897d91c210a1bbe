"""Worker counts: kolla-ansible's globals keys, with defaults sized from the machine and
carried into every service's config, never numbers written into the templates."""

from __future__ import annotations

import configparser
import contextlib
from pathlib import Path

import pytest

from colla import hostinfo
from colla.catalog import load_services
from colla.config.globals import load_globals
from colla.deploy.desired import desired_state
from colla.deploy.topology import API_WORKERS_MAX, RPC_WORKERS_MAX, default_workers, topology
from colla.errors import BadInput
from colla.model.topology import Topology
from colla.project import load_project

SERVICES = {"keystone": True}


@pytest.mark.parametrize(
    ("cpus", "gib", "api", "rpc"),
    [
        (2, 23.4, 1, 1),  # this kind of machine: every service shares two cores
        (4, 16.0, 2, 2),
        (8, 31.3, 4, 3),
        (64, 512.0, API_WORKERS_MAX, RPC_WORKERS_MAX),
        (16, 6.0, 1, 1),  # many cores, little memory: memory decides
        (1, 0.5, 1, 1),  # never fewer than one
    ],
)
def test_the_default_follows_the_machine(cpus: int, gib: float, api: int, rpc: int) -> None:
    size = hostinfo.Size(cpus, gib)
    assert default_workers(size, API_WORKERS_MAX) == api
    assert default_workers(size, RPC_WORKERS_MAX) == rpc


def test_the_machine_is_read_from_proc(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("".join(f"processor\t: {i}\n\n" for i in range(4)))
    (tmp_path / "proc/meminfo").write_text("MemTotal:        8388608 kB\nMemFree: 1 kB\n")
    assert hostinfo.size(tmp_path) == hostinfo.Size(4, 8.0)
    (tmp_path / "proc/meminfo").unlink()
    # Unknown memory counts as a small machine: lean rather than overcommitted.
    assert hostinfo.size(tmp_path).memory_gib == 4.0
    mine = hostinfo.size()
    assert mine.cpus >= 1 and mine.memory_gib > 0


def test_kolla_quoted_counts_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "globals.yml"
    path.write_text(
        "network_interface: eth0\n"
        'openstack_service_workers: "3"\n'
        "openstack_service_rpc_workers: 2\n"
    )
    g = load_globals(path, SERVICES)
    assert (g.openstack_service_workers, g.openstack_service_rpc_workers) == (3, 2)


@pytest.mark.parametrize("value", ['"two"', "0", '"0"', "1.5", "true", '"-1"', "65"])
def test_a_bad_count_names_file_and_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "globals.yml"
    path.write_text(f"network_interface: eth0\nopenstack_service_workers: {value}\n")
    with pytest.raises(BadInput, match=r"globals.yml.*openstack_service_workers"):
        load_globals(path, SERVICES)


def test_the_keys_win_over_the_machine(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostinfo, "size", lambda: hostinfo.Size(32, 256.0))
    with (config_dir / "globals.yml").open("a") as f:
        # No network agent: this machine need not have the provider interface.
        f.write("enable_neutron: false\nenable_nova: false\nenable_horizon: false\n")
    catalog = load_services()
    sized = topology(load_project(config_dir, catalog), catalog)
    assert (sized.workers, sized.rpc_workers) == (API_WORKERS_MAX, RPC_WORKERS_MAX)
    with (config_dir / "globals.yml").open("a") as f:
        f.write("openstack_service_workers: 2\nopenstack_service_rpc_workers: 1\n")
    chosen = topology(load_project(config_dir, catalog), catalog)
    assert (chosen.workers, chosen.rpc_workers) == (2, 1)


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    # Not an INI file (libvirt's, for one): it holds no worker count.
    with contextlib.suppress(configparser.MissingSectionHeaderError):
        parser.read_string(text)
    return parser


def _counts(config_dir: Path, workers: int, rpc_workers: int) -> dict[tuple[str, str], str]:
    """Each container's worker settings, rendered for the given counts."""
    catalog = load_services()
    project = load_project(config_dir, catalog)
    addresses = {"localhost": "127.0.0.1"}
    topo = Topology(addresses, "127.0.0.1", "127.0.0.1", workers=workers, rpc_workers=rpc_workers)
    node = desired_state(project, catalog, topo)["localhost"]
    found: dict[tuple[str, str], str] = {}
    wanted = {
        "uwsgi": "processes",
        "DEFAULT": "workers api_workers rpc_workers rpc_state_report_workers metadata_workers",
        "conductor": "workers",
        "scheduler": "workers",
    }
    for container in node.containers:
        for item in container.files:
            if not item.name.endswith((".ini", ".conf")):
                continue
            parsed = _ini(item.content)
            for section, keys in wanted.items():
                for key in keys.split():
                    if parsed.has_option(section, key):
                        found[(container.name, f"{section}.{key}")] = parsed.get(section, key)
    return found


API = {
    ("keystone", "uwsgi.processes"),
    ("placement_api", "uwsgi.processes"),
    ("nova_api", "uwsgi.processes"),
    ("nova_metadata", "uwsgi.processes"),
    ("horizon", "uwsgi.processes"),
    ("glance_api", "DEFAULT.workers"),
    ("neutron_metadata_agent", "DEFAULT.metadata_workers"),
}
# Neutron serves in its own process when given 0: one worker is that process.
IN_PROCESS_API = {("neutron_server", "DEFAULT.api_workers")}
RPC = {
    ("nova_conductor", "conductor.workers"),
    ("nova_scheduler", "scheduler.workers"),
    ("neutron_server", "DEFAULT.rpc_workers"),
}
REPORTS = ("neutron_server", "DEFAULT.rpc_state_report_workers")


def test_every_service_runs_the_counts_it_is_given(config_dir: Path) -> None:
    found = _counts(config_dir, 3, 2)
    assert {k: found.get(k) for k in API | IN_PROCESS_API} == dict.fromkeys(
        API | IN_PROCESS_API, "3"
    )
    assert {k: found.get(k) for k in RPC | {REPORTS}} == dict.fromkeys(RPC | {REPORTS}, "2")


def test_one_worker_is_one_process_not_a_parent_and_a_child(config_dir: Path) -> None:
    found = _counts(config_dir, 1, 1)
    assert {k: found.get(k) for k in API | RPC} == dict.fromkeys(API | RPC, "1")
    # Neutron's API serves in the server's main process, and its one RPC
    # worker takes the agents' state reports with no worker kept for them alone.
    assert {k: found.get(k) for k in IN_PROCESS_API} == dict.fromkeys(IN_PROCESS_API, "0")
    assert found[REPORTS] == "0"
