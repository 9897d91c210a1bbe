"""docker-compose as the tests run it, and waiting for containers to be healthy."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED

COMPOSE = shutil.which("docker-compose") or "docker-compose"


def compose(directory: Path, *args: str, timeout: int = 900) -> str:
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


def wait_healthy(engine: Engine, names: set[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = {c.name: c.health for c in engine.containers(f"{LABEL_MANAGED}=true")}
        if all(found.get(n) == "healthy" for n in names):
            return
        assert time.monotonic() < deadline, f"not healthy: {found}"
        time.sleep(2)
