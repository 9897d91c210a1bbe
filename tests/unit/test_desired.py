"""Desired state from a real config directory: specs, hashes, secrets, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.deploy.desired import desired_state
from colla.deploy.executor import container_request
from colla.deploy.prechecks import check_dependencies
from colla.errors import BadInput
from colla.model.specs import LogLimits, spec_from_dict, spec_to_dict
from colla.model.topology import Topology
from colla.project import Project, load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")


def _project(config_dir: Path) -> Project:
    return load_project(config_dir, load_services())


def _hashes(config_dir: Path) -> dict[str, str]:
    nodes = desired_state(_project(config_dir), load_services(), TOPOLOGY)
    return {c.name: c.spec_hash for c in nodes["localhost"].containers}


def test_all_in_one_containers_and_bootstrap_order(config_dir: Path) -> None:
    node = desired_state(_project(config_dir), load_services(), TOPOLOGY)["localhost"]
    assert [c.name for c in node.containers] == [
        "glance_api",
        "horizon",
        "keystone",
        "mariadb",
        "memcached",
        "neutron_dhcp_agent",
        "neutron_l3_agent",
        "neutron_linuxbridge_agent",
        "neutron_metadata_agent",
        "neutron_server",
        "nova_api",
        "nova_compute",
        "nova_conductor",
        "nova_libvirt",
        "nova_metadata",
        "nova_novncproxy",
        "nova_scheduler",
        "placement_api",
        "rabbitmq",
    ]
    assert [t.name for t in node.tasks["keystone"]] == ["keystone-databases", "keystone-bootstrap"]
    # The schema steps need only the database server: they come before the registration,
    # which needs the identity service, and run early (the first 3 of glance's).
    assert [t.name for t in node.tasks["glance"]] == [
        "glance-databases",
        "glance-db-sync",
        "glance-load-metadefs",
        "glance-register",
    ]
    assert node.early == {"glance": 3, "neutron": 2, "nova": 2, "placement": 2}
    keystone = next(c for c in node.containers if c.name == "keystone")
    assert keystone.image == "colla/keystone:zed"
    assert dict(keystone.volumes)["keystone_fernet_keys"] == "/etc/keystone/fernet-keys"
    assert keystone.config_dir == str(config_dir / "keystone")
    assert keystone.healthcheck is not None
    assert "127.0.0.1:5000/v3" in keystone.healthcheck.test
    config = json.loads(next(f.content for f in keystone.files if f.name == "config.json"))
    assert config["command"] == "uwsgi_python3 --ini /etc/keystone/keystone-uwsgi.ini"
    assert {f["dest"] for f in config["config_files"]} == {
        "/etc/keystone/keystone.conf",
        "/etc/keystone/keystone-uwsgi.ini",
    }


def test_rendering_is_deterministic(config_dir: Path) -> None:
    assert _hashes(config_dir) == _hashes(config_dir)


def test_secrets_stay_in_files(config_dir: Path) -> None:
    project = _project(config_dir)
    secrets = [v for v in project.passwords.values.values()]
    node = desired_state(project, load_services(), TOPOLOGY)["localhost"]
    for container in node.containers:
        exposed = json.dumps(container.labels()) + json.dumps(dict(container.environment))
        config = next(f.content for f in container.files if f.name == "config.json")
        for secret in secrets:
            assert secret not in exposed, container.name
            assert secret not in config, container.name
    keystone_conf = next(
        f.content
        for c in node.containers
        if c.name == "keystone"
        for f in c.files
        if f.name == "keystone.conf"
    )
    assert project.passwords["keystone_database_password"] in keystone_conf


def test_service_override_changes_only_that_service(config_dir: Path) -> None:
    before = _hashes(config_dir)
    (config_dir / "config").mkdir()
    (config_dir / "config" / "keystone.conf").write_text("[DEFAULT]\ndebug = true\n")
    after = _hashes(config_dir)
    assert {name for name in before if before[name] != after[name]} == {"keystone"}
    node = desired_state(_project(config_dir), load_services(), TOPOLOGY)["localhost"]
    keystone = next(c for c in node.containers if c.name == "keystone")
    text = next(f.content for f in keystone.files if f.name == "keystone.conf")
    assert "[DEFAULT]\nuse_stderr = true\nlog_file =\ndebug = true\n" in text


def test_container_override(config_dir: Path) -> None:
    before = _hashes(config_dir)
    (config_dir / "config" / "glance").mkdir(parents=True)
    (config_dir / "config" / "glance" / "glance-api.conf").write_text("[DEFAULT]\nworkers = 3\n")
    after = _hashes(config_dir)
    assert {name for name in before if before[name] != after[name]} == {"glance_api"}


def test_bad_override_names_file_and_line(config_dir: Path) -> None:
    (config_dir / "config").mkdir()
    (config_dir / "config" / "placement.conf").write_text("[api]\nthis is not ini\n")
    with pytest.raises(BadInput, match=r"placement.conf:2"):
        desired_state(_project(config_dir), load_services(), TOPOLOGY)


def test_disabled_dependency_is_an_error(config_dir: Path) -> None:
    globals_path = config_dir / "globals.yml"
    globals_path.write_text(globals_path.read_text() + "enable_keystone: false\n")
    with pytest.raises(
        BadInput, match="enable_glance needs keystone, but enable_keystone is false"
    ):
        check_dependencies(_project(config_dir), load_services())


def test_shipped_service_catalog_orders_dependencies() -> None:
    catalog = load_services()
    levels = catalog.levels(set(catalog.services))
    assert levels[0] == ["haproxy", "mariadb", "memcached", "rabbitmq"]
    assert levels[1] == ["keystone"]
    assert levels[2] == ["glance", "neutron", "placement"]
    assert levels[3] == ["neutron_linuxbridge", "nova"]
    assert levels[4] == ["horizon", "neutron_agents", "nova_compute"]


def test_volume_prefix_names_every_volume(config_dir: Path) -> None:
    with (config_dir / "globals.yml").open("a") as f:
        f.write("colla_volume_prefix: suite-\n")
    node = desired_state(_project(config_dir), load_services(), TOPOLOGY)["localhost"]
    mariadb = next(c for c in node.containers if c.name == "mariadb")
    assert dict(mariadb.volumes) == {
        "suite-mariadb": "/var/lib/mysql",
        "suite-colla_logs": "/var/log/colla",
    }
    tasks = [t for steps in (*node.tasks.values(), *node.post.values()) for t in steps]
    names = {v for t in tasks for v, _ in t.volumes} | {
        v for c in node.containers for v, _ in c.volumes
    }
    assert names and all(v.startswith("suite-") for v in names)


def test_a_bad_volume_prefix_is_refused(config_dir: Path) -> None:
    with (config_dir / "globals.yml").open("a") as f:
        f.write("colla_volume_prefix: ../x\n")
    with pytest.raises(BadInput, match="colla_volume_prefix"):
        _project(config_dir)


def test_each_container_waits_for_one_address_of_each_dependency(config_dir: Path) -> None:
    node = desired_state(_project(config_dir), load_services(), TOPOLOGY)["localhost"]

    def waits(name: str) -> list[str]:
        container = next(c for c in node.containers if c.name == name)
        config = json.loads(next(f.content for f in container.files if f.name == "config.json"))
        return list(config.get("wait_for", []))

    # The Neutron agents start only once RabbitMQ and neutron-server answer.
    assert waits("neutron_dhcp_agent") == ["127.0.0.1:9696", "127.0.0.1:5672"]
    assert waits("keystone") == ["127.0.0.1:3306", "127.0.0.1:11211"]
    assert waits("mariadb") == []


def test_every_container_carries_its_log_bound_into_the_request_and_hash(
    config_dir: Path,
) -> None:
    before = _hashes(config_dir)
    node = desired_state(_project(config_dir), load_services(), TOPOLOGY)["localhost"]
    assert {c.log for c in node.containers} == {LogLimits("50m", 5)}
    with (config_dir / "globals.yml").open("a") as f:
        f.write("docker_log_max_size: 10m\ndocker_log_max_file: 3\n")
    node = desired_state(_project(config_dir), load_services(), TOPOLOGY)["localhost"]
    assert {c.log for c in node.containers} == {LogLimits("10m", 3)}
    assert {container_request(c).log_limits for c in node.containers} == {("10m", 3)}
    # Docker sets log options at creation: a new bound must recreate every container.
    after = _hashes(config_dir)
    assert all(after[name] != before[name] for name in before)
    keystone = next(c for c in node.containers if c.name == "keystone")
    assert spec_from_dict(spec_to_dict(keystone)) == keystone


@pytest.mark.parametrize("haproxy", [False, True])
def test_rendering_one_service_makes_it_as_rendering_them_all(
    config_dir: Path, haproxy: bool
) -> None:
    # An upgrade renders only the service it upgrades: its specs, waits for its
    # dependencies included, must be those a whole deploy renders.
    if haproxy:
        globals_file = config_dir / "globals.yml"
        globals_file.write_text(globals_file.read_text() + "\nenable_haproxy: true\n")
    project = _project(config_dir)
    catalog = load_services()
    topo = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")
    whole = desired_state(project, catalog, topo)
    services = {c.service for specs in whole.values() for c in specs.containers}
    assert {"keystone", "nova", "neutron_agents"} <= services
    for service in services:
        alone = desired_state(project, catalog, topo, only={service})
        for node, specs in whole.items():
            mine = tuple(c for c in specs.containers if c.service == service)
            assert alone[node].containers == mine, service
            assert alone[node].tasks == {k: v for k, v in specs.tasks.items() if k == service}
