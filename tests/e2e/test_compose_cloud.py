"""Destroy, the Compose round trip, and deploy again: the data outlives the containers.

colla's containers are removed (volumes kept), Compose brings the cloud up from the
generated file on the data the core cloud left, `colla check` passes against it and the
project and image made by test_core_cloud are still there; at the end `colla deploy`
puts colla's containers back on the same volumes, and the data is there again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED
from tests.compose import compose, wait_healthy
from tests.e2e.conftest import openstack
from tests.e2e.test_core_cloud import PROJECT

pytestmark = pytest.mark.e2e


def _assert_the_data_is_there(config_dir: Path) -> None:
    projects = json.loads(openstack(config_dir, "project", "list", "-f", "json"))
    assert PROJECT in {p["Name"] for p in projects}
    image = json.loads(openstack(config_dir, "image", "show", "-f", "json", PROJECT))
    assert image["status"] == "active"


def test_destroy_compose_and_deploy_keep_the_data(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "compose"
    assert run(["compose", "-c", str(config_dir), "-o", str(out), "--node", "localhost"]) == 0
    node_dir = out / "localhost"
    volumes = engine.volumes(f"{LABEL_MANAGED}=true")
    assert volumes
    assert run(["destroy", "--yes-i-really-mean-it", "-c", str(config_dir)]) == 0
    assert engine.containers(f"{LABEL_MANAGED}=true") == []
    assert engine.volumes(f"{LABEL_MANAGED}=true") == volumes
    try:
        compose(node_dir, "up", "-d")
        services = {"mariadb", "memcached", "rabbitmq", "keystone", "glance_api", "placement_api"}
        wait_healthy(engine, services)
        assert run(["check", "-c", str(config_dir)]) == 0
        _assert_the_data_is_there(config_dir)
    finally:
        compose(node_dir, "down")
    assert engine.containers(f"{LABEL_MANAGED}=true") == []
    assert engine.volumes(f"{LABEL_MANAGED}=true") == volumes
    assert run(["deploy", "-c", str(config_dir)]) == 0
    _assert_the_data_is_there(config_dir)
