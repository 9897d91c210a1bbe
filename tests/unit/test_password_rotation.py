"""A changed password is rolled out by deploy: the plan recreates exactly the containers
that use it, says so, and their services' bootstrap (which sets it) runs again."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from colla.catalog import load_services
from colla.deploy.desired import desired_state
from colla.deploy.plan import Action, Observed, Plan, make_plan
from colla.model.specs import NodeSpecs, spec_from_dict, spec_to_dict
from colla.model.topology import Topology
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")


def _desired(config_dir: Path) -> dict[str, NodeSpecs]:
    catalog = load_services()
    return desired_state(load_project(config_dir, catalog), catalog, TOPOLOGY)


def _running(nodes: dict[str, NodeSpecs]) -> dict[str, list[Observed]]:
    return {
        name: [Observed(c.name, name, "running", c.labels()) for c in specs.containers]
        for name, specs in nodes.items()
    }


def _set(config_dir: Path, key: str, value: str) -> None:
    path = config_dir / "passwords.yml"
    data = yaml.safe_load(path.read_text())
    data[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def _rotate(config_dir: Path, key: str, value: str) -> Plan:
    before = _desired(config_dir)
    _set(config_dir, key, value)
    enabled = {c.service for specs in before.values() for c in specs.containers}
    return make_plan(_desired(config_dir), _running(before), enabled)


def _recreated(plan: Plan) -> dict[str, tuple[str, ...]]:
    return {c.name: c.reasons for c in plan.changes if c.action is Action.RECREATE}


def test_a_changed_admin_password_recreates_keystone_and_reruns_its_bootstrap(
    config_dir: Path,
) -> None:
    plan = _rotate(config_dir, "keystone_admin_password", "new 'admin' $pass")
    assert _recreated(plan) == {"keystone": ("password keystone_admin_password changed",)}
    assert plan.services_changed() == {"keystone"}


def test_a_changed_service_password_names_it_and_the_files_it_changed(
    config_dir: Path,
) -> None:
    plan = _rotate(config_dir, "glance_keystone_password", "rotated#glance\\")
    assert _recreated(plan) == {
        "glance_api": (
            "password glance_keystone_password changed",
            "config file glance-api.conf changed",
        )
    }
    assert plan.services_changed() == {"glance"}  # glance-register sets the new one


def test_a_changed_rabbitmq_password_recreates_every_container_that_uses_it(
    config_dir: Path,
) -> None:
    plan = _rotate(config_dir, "rabbitmq_password", "rotated%rabbit")
    recreated = _recreated(plan)
    reason = "password rabbitmq_password changed"
    assert all(reasons[0] == reason for reasons in recreated.values())
    assert {"nova_compute", "nova_conductor", "neutron_server"} <= set(recreated)
    # The broker itself imports its new definitions in place: no restart, no
    # connection of the running services dropped.
    reloaded = {c.name for c in plan.changes if c.action is Action.RELOAD}
    assert reloaded == {"rabbitmq"}
    # Those that do not talk to RabbitMQ stay up.
    assert not {"keystone", "glance_api", "placement_api", "horizon", "memcached", "mariadb"} & set(
        recreated
    )


def test_labels_and_history_hold_digests_not_passwords(config_dir: Path) -> None:
    _set(config_dir, "keystone_admin_password", "a-very-distinctive-password")
    keystone = next(c for c in _desired(config_dir)["localhost"].containers if c.name == "keystone")
    assert dict(keystone.secrets).keys() == {
        "keystone_admin_password",
        "keystone_database_password",
    }
    assert "a-very-distinctive-password" not in json.dumps(keystone.labels())
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(keystone)))) == keystone
