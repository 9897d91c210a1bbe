"""Fixtures shared by the tiers that need the real engine and the all-in-one config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine

# The all-in-one cloud of the e2e tier and the Compose round trip: the same config
# directory as `make aio` (or COLLA_E2E_CONFIG_DIR), left deployed at the end.
CONFIG_DIR = Path(os.environ.get("COLLA_E2E_CONFIG_DIR", "/etc/colla"))


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The local engine; `make test` starts one, so a missing engine is a failure."""
    return Engine.connect()


@pytest.fixture(scope="session")
def images(engine: Engine) -> None:
    """The core images under the default names (cached when `make aio` built them)."""
    assert run(["base"]) == 0
    assert run(["build", "--profile", "core"]) == 0


@pytest.fixture(scope="session")
def config_dir(images: None) -> Path:
    """The all-in-one config directory, created and given passwords when missing."""
    if not (CONFIG_DIR / "globals.yml").exists():
        assert run(["init", "-c", str(CONFIG_DIR)]) == 0
    assert run(["genpwd", "-c", str(CONFIG_DIR)]) == 0
    return CONFIG_DIR
