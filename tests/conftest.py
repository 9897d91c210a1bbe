"""Fixtures shared by the tiers that need the real engine, the suite's order, and its
clean slate.

The suite runs tier by tier: unit, then integration, then e2e, and the e2e modules in
the order declared in ``E2E_ORDER`` (the cloud they share is built by the first and
used by the ones after it), not in the order of their file names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from colla.catalog import load_services
from colla.cli.app import run
from colla.engine import DockerEngine
from tests.janitor import SUITE_VOLUME_PREFIX, suite_volumes, sweep
from tests.passwords import nasty_passwords

# The e2e cloud's own config directory (its history, lock and overrides with it), never
# the operator's /etc/colla; its volumes carry SUITE_VOLUME_PREFIX. Made anew each run.
CONFIG_DIR = Path(os.environ.get("COLLA_E2E_CONFIG_DIR", "/var/lib/colla-suite/config"))

TIERS = ("unit", "integration", "e2e")
E2E_ORDER = (
    "test_core_cloud",  # destroys what runs, deploys the full cloud, uses it
    "test_passwords",  # its hostile passwords, then two of them rotated by deploy
    "test_bad_input_corpus",  # every bad input refused, the running cloud unchanged
    "test_compose_cloud",  # destroy, the same cloud from Compose files, colla's again
    "test_backup",  # backup, destroy --volumes, restore: the same cloud, same data
    "test_full_cloud",
    "test_upgrade",
    "test_upgrade_nova",
    "test_upgrade_apis",  # Glance and Placement
    "test_engine_restart",  # it restarts dockerd
    "test_upgrade_haproxy",  # it leaves HAProxy on
    "test_tls",  # it turns TLS on behind HAProxy, and leaves it on
    "test_rotation",  # keys and passwords rotated under load behind HAProxy
    "test_stop",  # last of the all-in-one modules: it stops the cloud
    "test_multinode",  # the lab last: the all-in-one cloud is stopped for it
)


def _order(item: pytest.Item) -> tuple[int, int]:
    parts = item.path.parts
    tier = next((TIERS.index(p) for p in reversed(parts) if p in TIERS), len(TIERS))
    module = item.path.stem
    return tier, E2E_ORDER.index(module) if module in E2E_ORDER else len(E2E_ORDER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort keeps each module's own order of tests.
    items.sort(key=_order)


def pytest_report_header() -> list[str]:
    return [
        "colla: the docker and e2e tiers take over this machine's Docker engine: they "
        "remove colla's containers (volumes of other clouds are kept), bind the "
        f"OpenStack API ports, and deploy from {CONFIG_DIR}",
    ]


@pytest.fixture(scope="session")
def engine() -> DockerEngine:
    """The local engine; `make test` starts one, so a missing engine is a failure."""
    return DockerEngine.connect()


@pytest.fixture(scope="session")
def images(engine: DockerEngine) -> None:
    """The core images under the default names (cached when `make aio` built them)."""
    assert run(["base"]) == 0
    assert run(["build", "--profile", "core"]) == 0


@pytest.fixture(scope="session")
def clean_slate(engine: DockerEngine) -> None:
    """What a killed earlier run left is removed, and the suite's cloud starts empty."""
    sweep(engine, CONFIG_DIR, print)
    leftovers = suite_volumes(engine)
    if leftovers:
        # The volumes' passwords went with the old config directory: their containers go,
        # then the volumes.
        assert run(["destroy", "--yes-i-really-mean-it", "-c", str(CONFIG_DIR)]) == 0
        for volume in leftovers:
            engine.remove_volume(volume)


@pytest.fixture(scope="session")
def config_dir(images: None, clean_slate: None) -> Iterator[Path]:
    """The suite's all-in-one config directory, new for this run, with passwords."""
    assert run(["init", "-c", str(CONFIG_DIR)]) == 0
    with (CONFIG_DIR / "globals.yml").open("a", encoding="utf-8") as f:
        f.write("\n# The test suite's cloud: volumes of its own.\n")
        f.write(f"colla_volume_prefix: {SUITE_VOLUME_PREFIX}\n")
    assert run(["genpwd", "-c", str(CONFIG_DIR)]) == 0
    _make_passwords_hostile(CONFIG_DIR / "passwords.yml")
    yield CONFIG_DIR


def _make_passwords_hostile(path: Path) -> None:
    """Every password the cloud uses becomes one of tests/passwords.py's: quotes, ``$``,
    ``%``, ``#``, backslashes, spaces and non-ASCII letters, so that every e2e test runs
    on a cloud whose files had to escape them (issue 12)."""
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    catalog = load_services()
    every = set(catalog.services)
    values.update(
        nasty_passwords(catalog.required_passwords(every), catalog.ascii_passwords(every))
    )
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
