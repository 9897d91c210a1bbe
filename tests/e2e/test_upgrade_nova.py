"""Upgrade and rollback of Nova's control side and of its compute side, on the real cloud.

Runs after test_full_cloud (file order). Each test leaves the service at the globals'
tag and healthy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from tests.e2e.conftest import openstack
from tests.e2e.test_full_cloud import boot_sector_image

pytestmark = pytest.mark.e2e

TAG = "zed-upgrade"
NOVA = ("nova_api", "nova_metadata", "nova_scheduler", "nova_conductor", "nova_novncproxy")
COMPUTE = ("nova_compute", "nova_libvirt")


NOVA_IMAGES = ("nova-api", "nova-conductor", "nova-scheduler", "nova-novncproxy", "nova-compute")


@pytest.fixture(scope="module")
def nova_tag(config_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every Nova image under a second tag: one extra layer on top of each built image.

    The layer goes into each leaf's footer, not into nova-base, so that nothing below it
    is rebuilt (a nova-base change would reinstall nova-compute's packages).
    """
    override = tmp_path_factory.mktemp("nova") / "upgrade.j2"
    override.write_text(
        "".join(
            "{% block " + name.replace("-", "_") + "_footer %}"
            "RUN echo colla-upgrade-test > /etc/colla-upgrade{% endblock %}\n"
            for name in NOVA_IMAGES
        )
    )
    assert run(["build", "^nova-", "--tag", TAG, "--template-override", str(override)]) == 0
    return TAG


def _images(engine: Engine, names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        info = engine.container(name)
        assert info is not None and info.state == "running", (name, info)
        assert info.health == "healthy", (name, info)
        found[name] = info.image_id
    return found


def _expected(engine: Engine, names: tuple[str, ...], tag: str) -> dict[str, str]:
    """Each container's image at ``tag`` (same repository as the one it runs)."""
    found = {}
    for name in names:
        container = engine.container(name)
        assert container is not None, name
        repository = json.loads(container.labels["colla.spec"])["image"].rsplit(":", 1)[0]
        info = engine.image(f"{repository}:{tag}")
        assert info is not None, repository
        found[name] = info.id
    return found


def _compute_up(config_dir: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        services = json.loads(openstack(config_dir, "compute", "service", "list", "-f", "json"))
        states = {s["Binary"]: s["State"] for s in services}
        wanted = ("nova-conductor", "nova-scheduler", "nova-compute")
        if all(states.get(b) == "up" for b in wanted):
            return
        assert time.monotonic() < deadline, states
        time.sleep(3)


def test_upgrade_and_roll_back_the_nova_api(
    engine: Engine, config_dir: Path, nova_tag: str
) -> None:
    before = _images(engine, NOVA)
    assert run(["upgrade", "nova", "--tag", nova_tag, "-c", str(config_dir)]) == 0
    assert _images(engine, NOVA) == _expected(engine, NOVA, nova_tag)
    _compute_up(config_dir)
    assert "colla-e2e" not in openstack(config_dir, "flavor", "list")
    assert run(["rollback", "nova", "--yes", "-c", str(config_dir)]) == 0
    assert _images(engine, NOVA) == before
    _compute_up(config_dir)


def test_upgrade_and_roll_back_nova_compute(
    engine: Engine, config_dir: Path, nova_tag: str, tmp_path: Path
) -> None:
    before = _images(engine, COMPUTE)
    assert run(["upgrade", "nova_compute", "--tag", nova_tag, "-c", str(config_dir)]) == 0
    assert _images(engine, COMPUTE) == _expected(engine, COMPUTE, nova_tag)
    _compute_up(config_dir)
    # The upgraded compute side boots a server.
    image = boot_sector_image(tmp_path / "boot.raw")
    c = config_dir
    openstack(c, "flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", "colla-up")
    try:
        openstack(
            c,
            *("image", "create", "--disk-format", "raw", "--container-format", "bare"),
            *("--file", str(image), "colla-up-boot"),
        )
        openstack(
            c,
            *("server", "create", "--flavor", "colla-up", "--image", "colla-up-boot"),
            *("--nic", "none", "--wait", "colla-up-server"),
        )
        server = json.loads(openstack(c, "server", "show", "colla-up-server", "-f", "json"))
        assert server["status"] == "ACTIVE"
    finally:
        openstack(c, "server", "delete", "--wait", "colla-up-server")
        openstack(c, "image", "delete", "colla-up-boot")
        openstack(c, "flavor", "delete", "colla-up")
    assert run(["rollback", "nova_compute", "--yes", "-c", str(config_dir)]) == 0
    assert _images(engine, COMPUTE) == before
    _compute_up(config_dir)
