"""The Compose round trip: the deployed cloud's Compose file brings up the same cloud.

colla's own containers are removed (volumes kept), Compose brings the core services up
from the generated file on the data the core cloud left, `colla check` passes against
them, and at the end `colla deploy` puts colla's containers back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.cli.app import run
from colla.deploy.specs import LABEL_MANAGED
from colla.engine import Engine
from tests.compose import compose, wait_healthy

pytestmark = pytest.mark.e2e


def test_compose_brings_up_the_core_cloud(engine: Engine, config_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "compose"
    assert run(["compose", "-c", str(config_dir), "-o", str(out), "--node", "localhost"]) == 0
    node_dir = out / "localhost"
    assert run(["destroy", "--yes-i-really-mean-it", "-c", str(config_dir)]) == 0
    try:
        compose(node_dir, "up", "-d")
        services = {"mariadb", "memcached", "rabbitmq", "keystone", "glance_api", "placement_api"}
        wait_healthy(engine, services)
        assert run(["check", "-c", str(config_dir)]) == 0
    finally:
        compose(node_dir, "down")
    assert engine.containers(f"{LABEL_MANAGED}=true") == []
    assert run(["deploy", "-c", str(config_dir)]) == 0
