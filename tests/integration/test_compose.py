"""The Compose round trip on the real engine: generate, `docker-compose up`, check, down.

It uses the all-in-one config directory: colla's own containers are removed first
(volumes kept), Compose brings up the same cloud from the generated file, and at the
end `colla deploy` puts colla's containers back.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.deploy.specs import LABEL_MANAGED
from colla.engine import Engine

pytestmark = pytest.mark.docker

COMPOSE = shutil.which("docker-compose") or "docker-compose"


def _compose(directory: Path, *args: str, timeout: int = 900) -> str:
    result = subprocess.run(
        [COMPOSE, "--project-name", "colla", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _wait_healthy(engine: Engine, names: set[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = {c.name: c.health for c in engine.containers(f"{LABEL_MANAGED}=true")}
        if all(found.get(n) == "healthy" for n in names):
            return
        assert time.monotonic() < deadline, f"not healthy: {found}"
        time.sleep(2)


def test_every_generated_file_is_accepted_by_docker_compose(
    config_dir: Path, tmp_path: Path
) -> None:
    for options in ([], ["--data-containers"]):
        out = tmp_path / ("data" if options else "named")
        assert run(["compose", "-c", str(config_dir), "-o", str(out), *options]) == 0
        for file in out.glob("*/docker-compose.yml"):
            _compose(file.parent, "config", "-q")


def test_compose_brings_up_the_core_cloud(engine: Engine, config_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "compose"
    assert run(["compose", "-c", str(config_dir), "-o", str(out), "--node", "localhost"]) == 0
    node_dir = out / "localhost"
    assert run(["destroy", "--yes-i-really-mean-it"]) == 0
    try:
        _compose(node_dir, "up", "-d")
        services = {"mariadb", "memcached", "rabbitmq", "keystone", "glance_api", "placement_api"}
        _wait_healthy(engine, services)
        assert run(["check", "-c", str(config_dir)]) == 0
    finally:
        _compose(node_dir, "down")
    assert engine.containers(f"{LABEL_MANAGED}=true") == []
    assert run(["deploy", "-c", str(config_dir)]) == 0
